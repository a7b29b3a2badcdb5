"""``mx.runtime``: what this oxnet can do, under MXNet's feature names (``mx.runtime.Features()
.is_enabled('CUDA')``). Features are detected on this machine and build, not fixed at compile
time: CUDA is enabled when a GPU driver is present, the CPU flags come from the processor."""
import collections
import importlib.util
import platform


class Feature:
    """One feature: its name and whether it is enabled."""

    def __init__(self, name, enabled):
        self.name = name
        self.enabled = bool(enabled)

    def __repr__(self):
        return ("✔ " if self.enabled else "✖ ") + self.name


def _cpu_flags():
    if platform.system() != "Linux":
        return set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _detect():
    from . import _native, cuda
    flags = _cpu_flags()
    has_gpu = cuda.num_gpus() > 0
    blas = _native.blas_library() or ""
    mpi = importlib.util.find_spec("mpi4py") is not None
    return [
        ("CUDA", has_gpu), ("CUDNN", False), ("NCCL", False), ("CUDA_RTC", has_gpu),
        ("TENSORRT", False),
        ("CPU_SSE", "sse" in flags), ("CPU_SSE2", "sse2" in flags),
        ("CPU_SSE3", "pni" in flags), ("CPU_SSE4_1", "sse4_1" in flags),
        ("CPU_SSE4_2", "sse4_2" in flags), ("CPU_SSE4A", "sse4a" in flags),
        ("CPU_AVX", "avx" in flags), ("CPU_AVX2", "avx2" in flags),
        ("OPENMP", False), ("SSE", "sse" in flags), ("F16C", "f16c" in flags),
        ("JEMALLOC", False), ("BLAS_OPEN", "openblas" in blas.lower()),
        ("BLAS_ATLAS", False), ("BLAS_MKL", False), ("BLAS_APPLE", False),
        # What user code checks these for is there: the linalg ops, MXNet 1.9.1's oneDNN
        # backends and quantization (get_backend_symbol('MKLDNN'), quantize_model_mkldnn),
        # and image decoding and OpenCV's resizes.
        ("LAPACK", True), ("MKLDNN", True), ("OPENCV", True), ("CAFFE", False),
        ("PROFILER", True), ("DIST_KVSTORE", mpi), ("CXX14", False), ("INT64_TENSOR_SIZE", True),
        ("SIGNAL_HANDLER", False), ("DEBUG", False), ("TVM_OP", False),
    ]


def feature_list():
    """Every feature, in MXNet's order."""
    return [Feature(name, on) for name, on in _detect()]


class Features(collections.OrderedDict):
    """The features by name; ``is_enabled(name)``."""

    instance = None

    def __new__(cls):
        if cls.instance is None:
            cls.instance = super().__new__(cls)
            super(Features, cls.instance).__init__([(f.name, f) for f in feature_list()])
        return cls.instance

    def __init__(self):
        pass

    def __repr__(self):
        return str(list(self.values()))

    def is_enabled(self, feature_name):
        """Whether ``feature_name`` (e.g. ``'CUDA'``) is enabled."""
        name = feature_name.upper()
        if name not in self:
            raise RuntimeError("Feature '{}' is unknown, known features are: {}".format(
                name, list(self.keys())))
        return self[name].enabled
