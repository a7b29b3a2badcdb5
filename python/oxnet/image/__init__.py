"""mx.image (alias mx.img): image decoding, resizing, cropping, rotation, augmenters and
ImageIter, as in MXNet 1.9.1's python/mxnet/image/image.py; detection augmenters and
ImageDetIter in mx.image.detection (alias mx.image.det), re-exported here as MXNet does.
Decoding uses Pillow (with OpenCV's gray conversion); resizing reproduces OpenCV's cv2.resize
in numpy (see io/_imgops.py)."""
from . import image
from .image import *  # noqa: F401,F403
from . import detection
from . import detection as det
from .detection import *  # noqa: F401,F403
