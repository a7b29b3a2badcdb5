"""``mx.mod``: modules, the MXNet 1.x training interface over bound symbols."""
from .base_module import BaseModule
from .bucketing_module import BucketingModule
from .module import Module
from .sequential_module import SequentialModule
from .python_module import PythonModule, PythonLossModule
from .executor_group import DataParallelExecutorGroup

__all__ = ["BaseModule", "BucketingModule", "Module", "SequentialModule",
           "DataParallelExecutorGroup", "PythonModule", "PythonLossModule"]
