// Shared by every oxnet kernel module. No system headers: NVRTC compiles this alone.
// half is stored as raw bits and converted with the PTX cvt instructions, so no
// cuda_fp16.h is needed; float16 math runs in float like the CPU kernels.

typedef unsigned long long u64;
typedef long long i64;

struct half_t { unsigned short bits; };

#ifdef __CUDACC_RTC__
__device__ __forceinline__ float h2f(half_t h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
    return f;
}
__device__ __forceinline__ half_t f2h(float f) {
    half_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
    return h;
}
#else
// Host emulation of the kernels (tests): the compiler's own half type.
__device__ __forceinline__ float h2f(half_t h) {
    _Float16 v;
    __builtin_memcpy(&v, &h.bits, 2);
    return (float)v;
}
__device__ __forceinline__ half_t f2h(float f) {
    _Float16 v = (_Float16)f;
    half_t h;
    __builtin_memcpy(&h.bits, &v, 2);
    return h;
}
#endif

// IO<S>: the compute type C of a storage type S, with load and store.
template <typename S> struct IO;
template <> struct IO<float> {
    typedef float C;
    static __device__ __forceinline__ C ld(float v) { return v; }
    static __device__ __forceinline__ float st(C v) { return v; }
};
template <> struct IO<double> {
    typedef double C;
    static __device__ __forceinline__ C ld(double v) { return v; }
    static __device__ __forceinline__ double st(C v) { return v; }
};
template <> struct IO<half_t> {
    typedef float C;
    static __device__ __forceinline__ C ld(half_t v) { return h2f(v); }
    static __device__ __forceinline__ half_t st(C v) { return f2h(v); }
};
#define OX_INT_IO(S)                                                       \
    template <> struct IO<S> {                                             \
        typedef double C;                                                  \
        static __device__ __forceinline__ C ld(S v) { return (C)v; }       \
        static __device__ __forceinline__ S st(C v) { return (S)v; }       \
    };
OX_INT_IO(unsigned char)
OX_INT_IO(signed char)
OX_INT_IO(int)
OX_INT_IO(long long)

// Broadcast strides of up to 6 dimensions (0 where an input is broadcast).
struct Bcast {
    i64 nd;
    i64 shape[6];
    i64 sa[6];
    i64 sb[6];
};

__device__ __forceinline__ void bcast_index(const Bcast& g, u64 i, u64* ia, u64* ib) {
    u64 a = 0, b = 0;
    for (int d = (int)g.nd - 1; d >= 0; --d) {
        u64 q = i % (u64)g.shape[d];
        i /= (u64)g.shape[d];
        a += q * (u64)g.sa[d];
        b += q * (u64)g.sb[d];
    }
    *ia = a;
    *ib = b;
}

// Remainder with the sign of the divisor, like Python and MXNet's mod; 0 for a zero divisor
// (MXNet's, where numpy gives NaN).
template <typename C> __device__ __forceinline__ C ox_mod(C a, C b) {
    if (b == (C)0) return (C)0;
    C r = fmod(a, b);
    return (r != (C)0 && ((r < (C)0) != (b < (C)0))) ? r + b : r;
}

// Sum of v over the block (blockDim.x a power of two, at most 256); every thread gets it.
__device__ __forceinline__ double ox_block_sum(double* sh, double v) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const double r = sh[0];
    __syncthreads();
    return r;
}

#define OX_LOOP(i, n) \
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)
