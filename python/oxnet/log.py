"""``mx.log``: loggers with MXNet's line format (level letter, date and time, file:line)."""
import logging
import warnings

CRITICAL = logging.CRITICAL
ERROR = logging.ERROR
WARNING = logging.WARNING
INFO = logging.INFO
DEBUG = logging.DEBUG
NOTSET = logging.NOTSET

PY3 = True


class _Formatter(logging.Formatter):
    """MXNet's console line: ``I1201 19:49:22 14886 path:func:12] message``, the level letter
    and location coloured."""

    _LABELS = {logging.CRITICAL: ("\x1b[35m", "C"), logging.ERROR: ("\x1b[31m", "E"),
               logging.WARNING: ("\x1b[31m", "W"), logging.INFO: ("\x1b[32m", "I"),
               logging.DEBUG: ("\x1b[34m", "D")}

    def __init__(self):
        super().__init__(datefmt="%m%d %H:%M:%S")

    def format(self, record):
        color, label = self._LABELS.get(record.levelno, ("\x1b[34m", "U"))
        self._style._fmt = (color + label + "%(asctime)s %(process)d %(pathname)s:"
                            "%(funcName)s:%(lineno)d]\x1b[0m %(message)s")
        return super().format(record)


def get_logger(name=None, filename=None, filemode=None, level=WARNING):
    """A logger writing to ``filename`` (the bare messages) or to stderr (MXNet's coloured
    line). The handler is added once per name: asking again returns the same logger."""
    logger = logging.getLogger(name)
    if name is not None and not getattr(logger, "_init_done", None):
        logger._init_done = True
        if filename:
            handler = logging.FileHandler(filename, filemode or "a")
        else:
            handler = logging.StreamHandler()
            handler.setFormatter(_Formatter())
        logger.addHandler(handler)
        logger.setLevel(level)
    return logger


def getLogger(name=None, filename=None, filemode=None, level=WARNING):  # noqa: N802 - MXNet's name
    """Deprecated form of :func:`get_logger`."""
    warnings.warn("getLogger is deprecated, Use get_logger instead.", DeprecationWarning,
                  stacklevel=2)
    return get_logger(name, filename, filemode, level)
