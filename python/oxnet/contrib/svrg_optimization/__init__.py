"""``mx.contrib.svrg_optimization``: stochastic variance-reduced gradient training of a Module
(Johnson & Zhang, 2013) — ``SVRGModule`` and the optimizer it drives, ``_SVRGOptimizer``."""
from . import svrg_module
from . import svrg_optimizer
from .svrg_module import SVRGModule
from .svrg_optimizer import _AssignmentOptimizer, _SVRGOptimizer
