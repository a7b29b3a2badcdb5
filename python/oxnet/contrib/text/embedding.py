"""Token embeddings (``mx.contrib.text.embedding``): a Vocabulary whose every index also has a
vector, the rows of the NDArray ``idx_to_vec``.

``CustomEmbedding`` reads a local text file (``token v1 v2 ...`` per line). ``GloVe`` and
``FastText`` take one of the pretrained file names MXNet knows and read it from
``<embedding_root>/<glove|fasttext>/``; MXNet would download it there, but oxnet never uses the
network, so an absent file raises ``FileNotFoundError`` naming the file and the URL to fetch it
from (a downloaded ``.zip`` left in that folder is extracted)."""
import logging
import os
import warnings
import zipfile

import numpy as np

from . import _constants as C
from . import vocab
from ... import ndarray as nd
from ...registry import ClassRegistry

__all__ = ["register", "create", "get_pretrained_file_names", "TokenEmbedding", "GloVe",
           "FastText", "CustomEmbedding", "CompositeEmbedding"]


EmbeddingArgError = vocab.TextArgError


def _data_dir():
    return os.getenv("MXNET_HOME", os.path.join(os.path.expanduser("~"), ".mxnet"))


class _TokenEmbedding(vocab.Vocabulary):
    """The base of all token embeddings: a Vocabulary plus ``idx_to_vec`` (one row per token,
    row 0 the unknown token's vector) and ``vec_len``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._vec_len = None
        self._idx_to_vec = None

    # ------------------------------------------------------------------ pretrained files
    @classmethod
    def _get_download_file_name(cls, pretrained_file_name):
        return pretrained_file_name

    @classmethod
    def _get_pretrained_file_url(cls, pretrained_file_name):
        repo_url = os.environ.get("MXNET_GLUON_REPO", C.APACHE_REPO_URL)
        return "%sgluon/embeddings/%s/%s" % (repo_url, cls.__name__.lower(),
                                            cls._get_download_file_name(pretrained_file_name))

    @classmethod
    def _check_pretrained_file_names(cls, pretrained_file_name):
        if pretrained_file_name not in cls.pretrained_file_name_sha1:
            name = cls.__name__.lower()
            raise KeyError("Cannot find pretrained file %s for token embedding %s. Valid "
                           "pretrained files for embedding %s: %s"
                           % (pretrained_file_name, name, name,
                              ", ".join(cls.pretrained_file_name_sha1)))

    @classmethod
    def _get_pretrained_file(cls, embedding_root, pretrained_file_name):
        embedding_dir = os.path.join(os.path.expanduser(embedding_root), cls.__name__.lower())
        path = os.path.join(embedding_dir, pretrained_file_name)
        if os.path.isfile(path):
            return path
        url = cls._get_pretrained_file_url(pretrained_file_name)
        archive = os.path.join(embedding_dir, os.path.basename(url))
        if archive.endswith(".zip") and os.path.isfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(embedding_dir)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(
            "%s: pretrained file %s is not at %s and oxnet does not download; fetch %s into %s "
            "(the archive is extracted there) or pass embedding_root"
            % (cls.__name__, pretrained_file_name, path, url, embedding_dir))

    # ------------------------------------------------------------------ loading
    def _load_embedding(self, pretrained_file_path, elem_delim, init_unknown_vec, encoding="utf8"):
        """Appends every token of the file to the index and builds ``idx_to_vec``; the unknown
        token (and any reserved token) missing from the file gets ``init_unknown_vec``."""
        path = os.path.expanduser(pretrained_file_path)
        if not os.path.isfile(path):
            raise ValueError("%s: pretrained_file_path %r is not a file"
                             % (type(self).__name__, pretrained_file_path))
        logging.info("Loading pre-trained token embedding vectors from %s", path)
        n_special = len(self._idx_to_token)
        special_vecs = {}
        vecs = []
        vec_len = None
        with open(path, "r", encoding=encoding) as f:
            for line_num, line in enumerate(f, 1):
                elems = line.rstrip().split(elem_delim)
                if len(elems) < 2:
                    raise EmbeddingArgError("%s: line %d of %s is not 'token%svalue...'"
                                            % (type(self).__name__, line_num, path, elem_delim))
                token = elems[0]
                try:
                    values = [float(x) for x in elems[1:]]
                except ValueError as e:
                    raise ValueError("%s: line %d of %s (token %r): %s"
                                     % (type(self).__name__, line_num, path, token, e)) from None
                # MXNet's order: the unknown (or a reserved) token's first line whatever its
                # length, then duplicates, then 1-value headers, then the length check.
                idx = self._token_to_idx.get(token)
                if idx is not None and idx < n_special and idx not in special_vecs:
                    special_vecs[idx] = values
                elif idx is not None:
                    warnings.warn("line %d of %s: token %s was already loaded; this duplicate "
                                  "is skipped" % (line_num, path, token))
                elif len(values) == 1:
                    warnings.warn("line %d of %s: token %s has a 1-dimensional vector %s; taken "
                                  "as a header and skipped" % (line_num, path, token, values))
                else:
                    if vec_len is None:
                        vec_len = len(values)
                    elif len(values) != vec_len:
                        raise EmbeddingArgError(
                            "%s: line %d of %s: token %s has %d values but earlier tokens have %d"
                            % (type(self).__name__, line_num, path, token, len(values), vec_len))
                    self._token_to_idx[token] = len(self._idx_to_token)
                    self._idx_to_token.append(token)
                    vecs.append(values)
        if vec_len is None:
            vec_len = max((len(v) for v in special_vecs.values()), default=None)
        if vec_len is None:
            raise ValueError("%s: %s holds no token vectors" % (type(self).__name__, path))
        for idx, v in special_vecs.items():
            if len(v) not in (1, vec_len):  # one value fills the row, as in MXNet
                raise EmbeddingArgError("%s: %s: token %s has %d values but the others have %d"
                                        % (type(self).__name__, path, self._idx_to_token[idx],
                                           len(v), vec_len))
        self._vec_len = vec_len
        table = np.zeros((len(self._idx_to_token), vec_len), dtype=np.float32)
        if vecs:
            table[n_special:] = np.asarray(vecs, dtype=np.float32)
        self._idx_to_vec = nd.array(table)
        for idx in range(n_special):
            if idx in special_vecs:
                self._idx_to_vec[idx] = nd.array(np.broadcast_to(special_vecs[idx], (vec_len,)))
            else:
                self._idx_to_vec[idx] = init_unknown_vec(shape=vec_len)

    def _index_tokens_from_vocabulary(self, vocabulary):
        self._token_to_idx = dict(vocabulary.token_to_idx)
        self._idx_to_token = list(vocabulary.idx_to_token)
        self._unknown_token = vocabulary.unknown_token
        self._reserved_tokens = (None if vocabulary.reserved_tokens is None
                                 else list(vocabulary.reserved_tokens))

    def _set_idx_to_vec_by_embeddings(self, token_embeddings, vocab_len, vocab_idx_to_token):
        """Concatenates, per token of the vocabulary, the vectors of every embedding; row 0
        takes each embedding's own unknown vector."""
        vec_len = sum(e.vec_len for e in token_embeddings)
        table = nd.zeros((vocab_len, vec_len))
        start = 0
        for e in token_embeddings:
            end = start + e.vec_len
            table[0, start:end] = e.idx_to_vec[0]
            if vocab_len > 1:
                table[1:, start:end] = e.get_vecs_by_tokens(list(vocab_idx_to_token[1:]))
            start = end
        self._vec_len = vec_len
        self._idx_to_vec = table

    def _build_embedding_for_vocabulary(self, vocabulary):
        if vocabulary is not None:
            if not isinstance(vocabulary, vocab.Vocabulary):
                raise TypeError("%s: vocabulary must be a mx.contrib.text.vocab.Vocabulary, "
                                "got %s" % (type(self).__name__, type(vocabulary).__name__))
            self._set_idx_to_vec_by_embeddings([self], len(vocabulary), vocabulary.idx_to_token)
            self._index_tokens_from_vocabulary(vocabulary)

    # ------------------------------------------------------------------ API
    @property
    def vec_len(self):
        return self._vec_len

    @property
    def idx_to_vec(self):
        return self._idx_to_vec

    def get_vecs_by_tokens(self, tokens, lower_case_backup=False):
        """The vector of a token (1-D) or of each token of a list (2-D); unknown tokens get
        row 0. With ``lower_case_backup`` a token not found as is is looked up lower-cased."""
        single = not isinstance(tokens, list)
        toks = [tokens] if single else tokens
        if lower_case_backup:
            idx = [self._token_to_idx[t] if t in self._token_to_idx
                   else self._token_to_idx.get(t.lower(), C.UNKNOWN_IDX) for t in toks]
        else:
            idx = [self._token_to_idx.get(t, C.UNKNOWN_IDX) for t in toks]
        vecs = nd.Embedding(nd.array(idx), self._idx_to_vec, input_dim=self._idx_to_vec.shape[0],
                            output_dim=self._idx_to_vec.shape[1])
        return vecs[0] if single else vecs

    def update_token_vectors(self, tokens, new_vectors):
        """Overwrites the vectors of known ``tokens`` (the unknown token included when named)
        with the rows of ``new_vectors`` (a 1-D NDArray is allowed for one token)."""
        if self._idx_to_vec is None:
            raise EmbeddingArgError("update_token_vectors: this embedding has no vectors yet")
        fn = "update_token_vectors"
        if not isinstance(new_vectors, nd.NDArray):
            raise EmbeddingArgError("%s: new_vectors must be an NDArray, got %s"
                                    % (fn, type(new_vectors).__name__))
        if not isinstance(tokens, list) or len(tokens) == 1:
            if new_vectors.ndim not in (1, 2):
                raise EmbeddingArgError("%s: new_vectors for one token must be 1-D or 2-D, got "
                                        "shape %s" % (fn, new_vectors.shape))
            tokens = tokens if isinstance(tokens, list) else [tokens]
            if new_vectors.ndim == 1:
                new_vectors = new_vectors.expand_dims(axis=0)
        elif new_vectors.ndim != 2:
            raise EmbeddingArgError("%s: new_vectors for %d tokens must be 2-D, got shape %s"
                                    % (fn, len(tokens), new_vectors.shape))
        if new_vectors.shape != (len(tokens), self._vec_len):
            raise EmbeddingArgError("%s: new_vectors has shape %s but %d tokens of dimension %d "
                                    "need shape %s" % (fn, new_vectors.shape, len(tokens),
                                                       self._vec_len, (len(tokens), self._vec_len)))
        indices = []
        for t in tokens:
            if t not in self._token_to_idx:
                raise ValueError("%s: token %s is unknown; to update the unknown token's vector "
                                 "name it explicitly as %s" % (fn, t, self._idx_to_token[0]))
            indices.append(self._token_to_idx[t])
        self._idx_to_vec[nd.array(indices)] = new_vectors


TokenEmbedding = _TokenEmbedding
_REGISTRY = ClassRegistry(_TokenEmbedding, "token embedding", "mx.contrib.text.embedding._TokenEmbedding")


def register(embedding_cls):
    """Registers a token embedding class under its lower-cased name (usable as a decorator)."""
    return _REGISTRY.register(embedding_cls)


def create(embedding_name, **kwargs):
    """An instance of the registered embedding ``embedding_name`` built with ``kwargs``."""
    if not isinstance(embedding_name, str):
        raise TypeError("create: embedding_name must be a str, got %s" % type(embedding_name).__name__)
    cls = _REGISTRY.get(embedding_name.lower())
    if cls is None:
        raise EmbeddingArgError("create: token embedding %r is not registered; registered: %s"
                                % (embedding_name, ", ".join(sorted(_REGISTRY))))
    return cls(**kwargs)


def get_pretrained_file_names(embedding_name=None):
    """The pretrained file names of one registered embedding, or a dict of them for all."""
    if embedding_name is None:
        return {name: list(cls.pretrained_file_name_sha1) for name, cls in _REGISTRY.items()}
    if embedding_name not in _REGISTRY:
        raise KeyError("get_pretrained_file_names: cannot find embedding_name %r; valid names: %s"
                       % (embedding_name, ", ".join(sorted(_REGISTRY))))
    return list(_REGISTRY[embedding_name].pretrained_file_name_sha1)


def _names(files):
    # Name -> expected SHA-1 in MXNet; oxnet keeps the names only (files are never fetched).
    return dict.fromkeys(files)


class _Pretrained(_TokenEmbedding):
    def __init__(self, pretrained_file_name, embedding_root=None, init_unknown_vec=nd.zeros,
                 vocabulary=None, **kwargs):
        type(self)._check_pretrained_file_names(pretrained_file_name)
        super().__init__(**kwargs)
        root = os.path.join(_data_dir(), "embeddings") if embedding_root is None else embedding_root
        self._load_embedding(type(self)._get_pretrained_file(root, pretrained_file_name), " ",
                             init_unknown_vec)
        self._build_embedding_for_vocabulary(vocabulary)


@register
class GloVe(_Pretrained):
    """GloVe vectors (https://nlp.stanford.edu/projects/glove/) from a local pretrained file."""
    pretrained_file_name_sha1 = _names(C.GLOVE_FILES)
    pretrained_archive_name_sha1 = _names(C.GLOVE_ARCHIVES)

    @classmethod
    def _get_download_file_name(cls, pretrained_file_name):
        corpus = pretrained_file_name.split(".")[1]
        return next(a for a in C.GLOVE_ARCHIVES if a.split(".")[1] == corpus)

    def __init__(self, pretrained_file_name="glove.840B.300d.txt", embedding_root=None,
                 init_unknown_vec=nd.zeros, vocabulary=None, **kwargs):
        super().__init__(pretrained_file_name, embedding_root, init_unknown_vec, vocabulary,
                         **kwargs)


@register
class FastText(_Pretrained):
    """fastText vectors (https://fasttext.cc/) from a local pretrained ``.vec`` file."""
    pretrained_file_name_sha1 = _names(C.FAST_TEXT_FILES)
    pretrained_archive_name_sha1 = _names(f[:-4] + ".zip" for f in C.FAST_TEXT_FILES)

    @classmethod
    def _get_download_file_name(cls, pretrained_file_name):
        return pretrained_file_name.rsplit(".", 1)[0] + ".zip"

    def __init__(self, pretrained_file_name="wiki.simple.vec", embedding_root=None,
                 init_unknown_vec=nd.zeros, vocabulary=None, **kwargs):
        super().__init__(pretrained_file_name, embedding_root, init_unknown_vec, vocabulary,
                         **kwargs)


class CustomEmbedding(_TokenEmbedding):
    """An embedding read from a local file with one ``token<elem_delim>v1<elem_delim>v2...``
    per line; a line with the unknown token gives its vector, else ``init_unknown_vec``."""

    def __init__(self, pretrained_file_path, elem_delim=" ", encoding="utf8",
                 init_unknown_vec=nd.zeros, vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        self._load_embedding(pretrained_file_path, elem_delim, init_unknown_vec, encoding)
        self._build_embedding_for_vocabulary(vocabulary)


class CompositeEmbedding(_TokenEmbedding):
    """The tokens of ``vocabulary``, each with the concatenation of its vectors in every one
    of ``token_embeddings`` (in order)."""

    def __init__(self, vocabulary, token_embeddings):
        if not isinstance(vocabulary, vocab.Vocabulary):
            raise EmbeddingArgError("CompositeEmbedding: vocabulary must be a Vocabulary, got %s"
                                    % type(vocabulary).__name__)
        if not isinstance(token_embeddings, list):
            token_embeddings = [token_embeddings]
        for e in token_embeddings:
            if not isinstance(e, _TokenEmbedding):
                raise EmbeddingArgError("CompositeEmbedding: token_embeddings must be token "
                                        "embeddings, got %s" % type(e).__name__)
        super().__init__()
        self._index_tokens_from_vocabulary(vocabulary)
        self._set_idx_to_vec_by_embeddings(token_embeddings, len(self), self._idx_to_token)
