"""mx.image (alias mx.img): image decoding, resizing, cropping, rotation, augmenters and
ImageIter, as in MXNet 1.9.1's python/mxnet/image/image.py. Decoding uses Pillow (with OpenCV's
gray conversion); resizing reproduces OpenCV's cv2.resize in numpy (see io/_imgops.py)."""
from . import image
from .image import *  # noqa: F401,F403
