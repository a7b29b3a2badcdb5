"""``mx.contrib.text``: token counting (``utils``), token indexing (``vocab``) and token
embeddings (``embedding``) as in MXNet 1.x, with vectors held in oxnet NDArrays."""
from . import utils
from . import vocab
from . import embedding
