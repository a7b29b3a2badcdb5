"""`_contrib_quantized_conv` and `_contrib_quantized_fully_connected` (MXNet 1.9.1 INT8
inference ops): exact int32 results against int64 numpy oracles for int8 and uint8 data, the
values and output ranges MXNet 1.9.1 (CPU, oneDNN) printed for seeded inputs, the symbol
interface with MXNet's argument names, dequantized results against the float ops, and errors.

MXNet's values were printed with weights in [-64, 64]: on CPUs without VNNI oneDNN's u8 x s8
kernel saturates pairs of products at int16, so MXNet itself is inexact for larger weights."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

_ERR = (MXNetError, ValueError, TypeError)
I32_MAX = np.float32(2147483647)

# MXNet 1.9.1, seed 42: uint8 data (2, 4, 5, 6) in [0, 2.5], int8 weight (8, 4, 3, 3) in
# [-0.75, 0.5], int8 bias (8,) in [-4, 3]; kernel (3, 3), pad (1, 1), stride (2, 1).
CONV_X = np.array([
    102, 179, 92, 14, 106, 71, 188, 20, 102, 121, 210, 214, 74, 202, 87, 116, 99, 103, 151, 130,
    149, 52, 1, 87, 235, 157, 37, 129, 191, 187, 20, 160, 203, 57, 21, 252, 235, 88, 48, 218, 58,
    254, 169, 255, 219, 187, 207, 14, 189, 189, 174, 189, 50, 107, 54, 243, 63, 248, 130, 228, 50,
    134, 20, 72, 166, 17, 131, 88, 59, 13, 241, 249, 8, 89, 52, 129, 83, 91, 110, 187, 198, 171,
    252, 7, 174, 34, 205, 80, 163, 49, 103, 131, 1, 253, 133, 53, 105, 3, 53, 220, 190, 145, 217,
    43, 161, 201, 189, 227, 13, 94, 47, 14, 199, 205, 214, 251, 248, 189, 39, 212, 207, 236, 81,
    110, 52, 23, 153, 216, 251, 187, 123, 236, 40, 156, 14, 44, 64, 88, 70, 8, 87, 128, 235, 135,
    215, 62, 138, 242, 80, 135, 162, 162, 32, 122, 4, 233, 230, 249, 40, 27, 134, 200, 71, 11,
    161, 32, 47, 246, 150, 61, 215, 36, 98, 171, 103, 213, 218, 34, 192, 226, 100, 174, 205, 130,
    0, 4, 217, 246, 254, 141, 102, 26, 136, 206, 14, 89, 41, 123, 204, 178, 62, 95, 230, 240, 51,
    252, 95, 131, 221, 228, 150, 230, 236, 142, 170, 28, 35, 12, 159, 70, 186, 242, 85, 27, 65,
    169, 44, 61, 184, 244, 133, 27, 27, 107, 43, 83, 29, 189, 74, 127,
])
CONV_W = np.array([
    27, 64, 56, -38, 56, 51, -62, 38, -3, -14, -6, 53, 31, 48, -3, -13, -53, -26, 48, 36, 48, 16,
    48, -63, -11, 22, 64, 61, -12, 3, 58, -27, -41, 4, 51, 33, 32, 59, 5, 28, -62, 25, 31, -13,
    63, -26, 17, 39, 64, -54, -23, 34, -58, 25, 47, -5, 48, -63, 64, -17, -28, -56, 34, -17, -11,
    55, 51, 10, 48, 39, 19, 47, 34, 28, 63, 45, 17, -11, 3, -32, -44, -17, 63, 63, -32, 50, 54,
    -43, -27, 44, -14, -57, -38, -38, -44, -35, 32, -37, 46, -4, -17, -61, -30, -16, -48, -19, 52,
    -59, 34, 59, -28, -41, 28, -19, 30, 34, 51, 2, 63, -47, -40, -11, -7, 2, 39, -41, 49, -33, 21,
    62, -48, 39, -22, -26, -39, 34, -15, -52, -5, -8, -29, -45, 0, -57, 50, 27, 33, 1, -33, 21,
    -14, -2, 60, -7, -7, 21, -16, 5, -50, -11, 36, -57, -12, -5, 43, -60, 38, -59, 44, 51, 29,
    -18, 34, -10, -13, -52, 49, 59, 41, 55, -2, -46, 27, -7, 25, 52, -3, -42, 62, 64, -7, 57, -64,
    -31, 31, 61, 53, -17, 24, 52, 64, -49, 4, -43, 28, 11, 21, -36, 4, -18, 29, 20, -26, 35, -32,
    36, -42, -55, 4, 35, -31, 31, -64, 4, -61, -49, -41, 15, -63, 63, 19, 59, -32, 36, -53, 2, 0,
    9, -22, -21, -36, -53, 30, -19, -30, 16, 25, -57, 28, 25, 50, 40, -7, 49, 10, 55, -44, 36, 34,
    -29, 31, -28, -53, 48, -52, -42, 34, 40, -35, -48, 48, -3, 19, 47, 21, -46, 35, 11, -56, -37,
    63, -13, 18, 46, 52, 4, 34, -40,
])
CONV_B = np.array([
    52, -5, 85, 100, -75, 23, 16, -71,
])
CONV_OUT = np.array([
    7488, 13375, 13469, 9525, 51829, 14380, 41665, 65475, 35107, 65112, 101020, 72644, 52112,
    49423, 69816, 71150, 61623, 46018, -13196, 9854, 26782, 49523, 53396, -35319, 14750, 31744,
    43688, 62421, 63463, 47392, 39187, 33109, 79027, 30321, 43040, -1412, -10221, -4951, -19990,
    -25903, -23766, -7045, 18755, 989, 747, -10832, -31638, -1873, 10758, 2700, -9463, -26081,
    -29454, 6340, 2378, -10704, -25108, -15962, -30297, 5789, 7664, -4982, -44304, -30145, -36496,
    24849, -11108, 8469, -11038, 22154, -39767, 23476, 5446, 1683, 8899, 30647, 22669, 30409,
    8569, 24405, 13371, 46757, 56538, 23772, 7370, -6232, -2719, -23929, -5109, -24815, 13653,
    45893, -8230, 14573, 46027, 7630, 39170, 53581, 24867, 48350, 52571, 11285, 38971, 25294,
    38000, 33009, 30461, -15932, -3167, -2328, 26082, -14841, 14029, -9661, -17529, -25763,
    -13250, -32156, -25065, -69829, -15460, -22942, -46212, -22381, -17264, -38579, -4397, 25934,
    -848, -3880, 12687, 15178, -5771, -10433, 24116, 17216, 48726, 28431, 36795, 37319, 45108,
    12256, 30585, 19826, 20529, 18108, 24901, 27946, 7386, 21504, 83128, 94434, 56633, 84986,
    75597, 41439, 23240, 65220, 72773, 58659, 73941, 69345, -1486, 26673, 43515, 30108, 30761,
    -1854, 41413, 71005, 35056, 96442, 49908, -7036, 9167, 33258, 19867, 26879, 56285, 23480,
    -11329, -53220, -41139, -30650, -12600, 1621, 4222, -3236, -16173, -24310, 7277, 10420,
    -16673, 2629, -10860, -1461, 1052, -9496, -8329, -13843, -14765, -19744, -9416, 3115, -19954,
    -5908, 15527, 323, -11670, 35082, -1006, -28981, 23077, 3146, -4315, 21393, 14801, 34236,
    16442, 28076, 9519, 27047, 55837, 50568, 63160, 40658, 30363, 39601, -14267, -427, -8772,
    -16714, 3727, -5850, 29196, 37342, 20689, 16381, 26368, 8662, 51635, 67292, 49715, 46596,
    38233, 1533, 17869, 30731, -14514, 24635, 25301, -5836, -6616, -29513, -22979, -6791, -14649,
    24394, -6107, -40489, -37101, -51236, -31587, -70874, -10993, -17757, -23865, -49060, -5133,
    -52184, -17445, 9731, 55856, 28201, 22109, 4741, -5826, 27247, 49540, 27027, 17494, 20888,
    1068, 37453, 10647, 11908, 47867, 10487,
])
CONV_OUT_NOBIAS = np.array([
    7436, 13323, 13417, 9473, 51777, 14328, 41613, 65423, 35055, 65060, 100968, 72592, 52060,
    49371, 69764, 71098, 61571, 45966, -13191, 9859, 26787, 49528, 53401, -35314, 14755, 31749,
    43693, 62426, 63468, 47397, 39192, 33114, 79032, 30326, 43045, -1407, -10306, -5036, -20075,
    -25988, -23851, -7130, 18670, 904, 662, -10917, -31723, -1958, 10673, 2615, -9548, -26166,
    -29539, 6255, 2278, -10804, -25208, -16062, -30397, 5689, 7564, -5082, -44404, -30245, -36596,
    24749, -11208, 8369, -11138, 22054, -39867, 23376, 5521, 1758, 8974, 30722, 22744, 30484,
    8644, 24480, 13446, 46832, 56613, 23847, 7445, -6157, -2644, -23854, -5034, -24740, 13630,
    45870, -8253, 14550, 46004, 7607, 39147, 53558, 24844, 48327, 52548, 11262, 38948, 25271,
    37977, 32986, 30438, -15955, -3183, -2344, 26066, -14857, 14013, -9677, -17545, -25779,
    -13266, -32172, -25081, -69845, -15476, -22958, -46228, -22397, -17280, -38595, -4326, 26005,
    -777, -3809, 12758, 15249, -5700, -10362, 24187, 17287, 48797, 28502, 36866, 37390, 45179,
    12327, 30656, 19897, 20477, 18056, 24849, 27894, 7334, 21452, 83076, 94382, 56581, 84934,
    75545, 41387, 23188, 65168, 72721, 58607, 73889, 69293, -1481, 26678, 43520, 30113, 30766,
    -1849, 41418, 71010, 35061, 96447, 49913, -7031, 9172, 33263, 19872, 26884, 56290, 23485,
    -11414, -53305, -41224, -30735, -12685, 1536, 4137, -3321, -16258, -24395, 7192, 10335,
    -16758, 2544, -10945, -1546, 967, -9581, -8429, -13943, -14865, -19844, -9516, 3015, -20054,
    -6008, 15427, 223, -11770, 34982, -1106, -29081, 22977, 3046, -4415, 21293, 14876, 34311,
    16517, 28151, 9594, 27122, 55912, 50643, 63235, 40733, 30438, 39676, -14192, -352, -8697,
    -16639, 3802, -5775, 29173, 37319, 20666, 16358, 26345, 8639, 51612, 67269, 49692, 46573,
    38210, 1510, 17846, 30708, -14537, 24612, 25278, -5859, -6632, -29529, -22995, -6807, -14665,
    24378, -6123, -40505, -37117, -51252, -31603, -70890, -11009, -17773, -23881, -49076, -5149,
    -52200, -17374, 9802, 55927, 28272, 22180, 4812, -5755, 27318, 49611, 27098, 17565, 20959,
    1139, 37524, 10718, 11979, 47938, 10558,
])
INT8_FC_X = np.array([
    -90, -20, 52, -87, 57, 38, 13, 94, -7, 4, 34, 86, 92, 106, -54, 17, 110, -53, -120, -55, 57,
    107, 16, 124, 101, -122, 45, 12, 39, 41,
])
INT8_FC_W = np.array([
    -38, 57, -60, -36, 18, 44, 0, 21, 6, -20, -29, 5, -46, 43, 26, 25, -46, -26, 61, 61, -7, -4,
    62, 40, -64, 27, 48, -9, 52, -7, -21, -4, -18, 15, 53, -45, -18, -16, -51, -64,
])
INT8_FC_B = np.array([
    -12, -75, -11, -126,
])
INT8_FC_OUT = np.array([
    6572, -6103, -3029, -3432, -6953, -17253, 12932, 922, -5645, 3865, -1087, 2340,
])
INT8_FC_OUT_NOBIAS = np.array([
    6842, -4416, -2782, -597, -6683, -15566, 13179, 3757, -5375, 5552, -840, 5175,
])
UINT8_FC_X = np.array([
    143, 214, 184, 202, 11, 73, 223, 15, 199, 101, 203, 151, 155, 116, 7, 121, 91, 163, 89, 135,
    185, 59, 177, 27, 219, 100, 40, 227, 191, 154,
])
UINT8_FC_W = np.array([
    -19, -30, 17, 50, -18, -55, -9, -35, 44, -60, 54, -32, 53, 0, -54, 20, -39, -2, 21, -6, -38,
    33, 40, 34, 64, -10, -59, 30, 37, -62, -42, -12, 18, 20, 13, 45, -64, -14, -61, 48,
])
UINT8_FC_B = np.array([
    103, -97, -95, -37,
])
UINT8_FC_OUT = np.array([
    4686, 1965, -59, -21235, -12797, 9198, -3188, -8415, -14865, 4357, 13617, -9070,
])
UINT8_FC_OUT_NOBIAS = np.array([
    42, 6338, 4224, -19567, -17441, 13571, 1095, -6747, -19509, 8730, 17900, -7402,
])
CONV_RANGE = 249645.46875
# int8 data (3, 2, 5) in [-0.8, 1.7], weight (4, 10) in [-0.3, 0.2], bias in [-0.05, 0.09].
INT8_FC_RANGE = 67903.5703125
# uint8 data (3, 2, 5) in [0, 1.7], the same weight and bias ranges.
UINT8_FC_RANGE = 33818.640625


def f32(v):
    return mx.nd.array([v], dtype='float32')


def nd(a, dtype):
    return mx.nd.array(np.asarray(a), dtype=dtype)


def step(lo, hi, levels):
    """Float per level of a factor (MXNet 1.9.1's FloatForOneQuantizedLevel)."""
    return np.float32(max(abs(lo), abs(hi))) / np.float32(levels)


def product_max(d, dlevels, w):
    return np.float32(step(*d, dlevels) * step(*w, 127)) * I32_MAX


def conv_oracle(x, w, stride, pad, dilate, groups):
    """Direct convolution in int64 (NCHW, OIHW)."""
    x = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    oh = (h - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, oh, ow), np.int64)
    fg = f // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * fg:(g + 1) * fg].astype(np.int64)
        for i in range(oh):
            for j in range(ow):
                win = xs[:, :, i * stride[0]:i * stride[0] + dilate[0] * (kh - 1) + 1:dilate[0],
                         j * stride[1]:j * stride[1] + dilate[1] * (kw - 1) + 1:dilate[1]]
                out[:, g * fg:(g + 1) * fg, i, j] = np.einsum('nchw,fchw->nf', win, ws)
    return out


def qconv(x, w, b, dt, rng_d, rng_w, rng_b, **kw):
    args = [nd(x, dt), nd(w, 'int8')]
    if b is not None:
        args.append(nd(b, 'int8'))
    args += [f32(rng_d[0]), f32(rng_d[1]), f32(rng_w[0]), f32(rng_w[1])]
    if b is not None:
        args += [f32(rng_b[0]), f32(rng_b[1])]
    return mx.nd.contrib.quantized_conv(*args, no_bias=b is None, **kw)


def qfc(x, w, b, dt, rng_d, rng_w, rng_b, **kw):
    args = [nd(x, dt), nd(w, 'int8')]
    if b is not None:
        args.append(nd(b, 'int8'))
    args += [f32(rng_d[0]), f32(rng_d[1]), f32(rng_w[0]), f32(rng_w[1])]
    if b is not None:
        args += [f32(rng_b[0]), f32(rng_b[1])]
    return mx.nd.contrib.quantized_fully_connected(*args, no_bias=b is None, **kw)


@pytest.mark.parametrize('with_bias', [True, False])
def test_conv_uint8_matches_mxnet(with_bias):
    x, w = CONV_X.reshape(2, 4, 5, 6), CONV_W.reshape(8, 4, 3, 3)
    out, lo, hi = qconv(x, w, CONV_B if with_bias else None, 'uint8', (0., 2.5), (-.75, .5),
                        (-4., 3.), kernel=(3, 3), num_filter=8, pad=(1, 1), stride=(2, 1))
    assert out.dtype == np.int32 and out.shape == (2, 8, 3, 6)
    assert lo.dtype == np.float32 and lo.shape == (1,) and hi.shape == (1,)
    want = CONV_OUT_NOBIAS.reshape(2, 8, 3, 6)
    if with_bias:
        # MXNet 1.9.1's oneDNN kernel printed CONV_OUT, the bias levels added unscaled; the
        # reference kernel's rescaling is what a quantized model needs (see conv.rs).
        assert np.array_equal(CONV_OUT.reshape(want.shape) - want,
                              np.broadcast_to(CONV_B.reshape(1, -1, 1, 1), want.shape))
        want = conv_bias_added(want, CONV_B, CONV_RANGE, (-4., 3.))
    np.testing.assert_array_equal(out.asnumpy(), want)
    assert (lo.asscalar(), hi.asscalar()) == (-CONV_RANGE, CONV_RANGE)


@pytest.mark.parametrize('dt', ['int8', 'uint8'])
@pytest.mark.parametrize('with_bias', [True, False])
def test_fc_matches_mxnet(dt, with_bias):
    c = {'int8': (INT8_FC_X, INT8_FC_W, INT8_FC_B, INT8_FC_OUT, INT8_FC_OUT_NOBIAS, -0.8,
                  INT8_FC_RANGE),
         'uint8': (UINT8_FC_X, UINT8_FC_W, UINT8_FC_B, UINT8_FC_OUT, UINT8_FC_OUT_NOBIAS, 0.,
                   UINT8_FC_RANGE)}[dt]
    x, w, b, want, want_nb, min_d, rng = c
    out, lo, hi = qfc(x.reshape(3, 2, 5), w.reshape(4, 10), b if with_bias else None, dt,
                      (min_d, 1.7), (-.3, .2), (-.05, .09), num_hidden=4)
    assert out.dtype == np.int32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out.asnumpy().ravel(), want if with_bias else want_nb)
    assert (lo.asscalar(), hi.asscalar()) == (-rng, rng)


def conv_bias_added(acc, b, out_max, rng_b):
    """MXNet's reference bias add: (acc * f_out + b * f_bias) / f_out in float32, truncated."""
    f_out = np.float32(out_max / 2147483647.0)
    f_bias = np.float32(max(abs(rng_b[0]), abs(rng_b[1])) / 127.0)
    bias = (np.asarray(b, np.float32) * f_bias).reshape(1, -1, 1, 1)
    v = (acc.astype(np.float32) * f_out + bias) / f_out
    return np.trunc(v).astype(np.int64)


@pytest.mark.parametrize('dt', ['int8', 'uint8'])
@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('geom', [
    dict(kernel=(3, 3), stride=(1, 1), pad=(0, 0), dilate=(1, 1), num_group=1),
    dict(kernel=(3, 2), stride=(2, 1), pad=(1, 2), dilate=(1, 2), num_group=1),
    dict(kernel=(1, 1), stride=(1, 1), pad=(0, 0), dilate=(1, 1), num_group=2),
    dict(kernel=(2, 3), stride=(1, 2), pad=(1, 0), dilate=(2, 1), num_group=3),
])
def test_conv_matches_int64_oracle(dt, with_bias, geom):
    rs = np.random.RandomState(7)
    lo = -128 if dt == 'int8' else 0
    groups = geom['num_group']
    c, f = 3 * groups, 4 * groups
    x = rs.randint(lo, lo + 256, size=(2, c, 7, 8))
    x[0, 0, 0, :3] = [lo, lo + 255, lo]   # extremes
    w = rs.randint(-128, 128, size=(f, c // groups) + geom['kernel'])
    w.flat[:2] = [-128, 127]
    b = rs.randint(-128, 128, size=f) if with_bias else None
    rd = (-1.25, 0.5) if dt == 'int8' else (0., 3.)
    out, mn, mx_ = qconv(x, w, b, dt, rd, (-0.2, 0.3), (-1., 1.), num_filter=f, **geom)
    want = conv_oracle(x, w, geom['stride'], geom['pad'], geom['dilate'], groups)
    # The convolution's range treats uint8 data as int8: 127 levels.
    top = product_max(rd, 127, (-0.2, 0.3))
    if with_bias:
        want = conv_bias_added(want, b, top, (-1., 1.))
    np.testing.assert_array_equal(out.asnumpy(), want)
    assert mx_.asscalar() == top and mn.asscalar() == -top


def test_conv_1d_and_3d():
    rs = np.random.RandomState(3)
    x = rs.randint(-128, 128, size=(2, 2, 9))
    w = rs.randint(-128, 128, size=(3, 2, 3))
    out = qconv(x, w, None, 'int8', (-1, 1), (-1, 1), None, kernel=(3,), num_filter=3,
                pad=(1,))[0]
    want = conv_oracle(x[:, :, None, :], w[:, :, None, :], (1, 1), (0, 1), (1, 1), 1)[:, :, 0]
    np.testing.assert_array_equal(out.asnumpy(), want)
    x3 = rs.randint(0, 256, size=(1, 2, 3, 4, 4))
    w3 = rs.randint(-128, 128, size=(2, 2, 2, 2, 2))
    out = qconv(x3, w3, None, 'uint8', (0, 1), (-1, 1), None, kernel=(2, 2, 2),
                num_filter=2)[0].asnumpy()
    want = np.zeros((1, 2, 2, 3, 3), np.int64)
    for d in range(2):
        for i in range(3):
            for j in range(3):
                want[:, :, d, i, j] = np.einsum('ncdhw,fcdhw->nf',
                                                x3[:, :, d:d + 2, i:i + 2, j:j + 2], w3)
    np.testing.assert_array_equal(out, want)


def fc_bias_levels(b, rd, dlevels, rw, rb):
    """MXNet 1.9.1's oneDNN bias rescale: 127.5/255.5-level scales, f32, truncated."""
    ds = np.float32(dlevels + 0.5) / np.float32(max(abs(rd[0]), abs(rd[1])))
    ws = np.float32(127.5) / np.float32(max(abs(rw[0]), abs(rw[1])))
    r = ds * ws * np.float32(max(abs(rb[0]), abs(rb[1]))) / np.float32(127.5)
    return np.trunc(b.astype(np.float32) * r).astype(np.int64)


@pytest.mark.parametrize('dt', ['int8', 'uint8'])
@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('flatten', [True, False])
def test_fc_matches_int64_oracle(dt, with_bias, flatten):
    rs = np.random.RandomState(11)
    lo, levels = (-128, 127) if dt == 'int8' else (0, 255)
    x = rs.randint(lo, lo + 256, size=(5, 3, 37))
    x.flat[:2] = [lo, lo + 255]
    k = 3 * 37 if flatten else 37
    w = rs.randint(-128, 128, size=(9, k))
    w.flat[:2] = [-128, 127]
    b = rs.randint(-128, 128, size=9) if with_bias else None
    rd = (-2., 1.) if dt == 'int8' else (0., 6.)
    out, mn, mx_ = qfc(x, w, b, dt, rd, (-.5, .5), (-.1, .3), num_hidden=9, flatten=flatten)
    xm = x.reshape(5, -1) if flatten else x
    want = xm.astype(np.int64) @ w.T.astype(np.int64)
    if with_bias:
        want += fc_bias_levels(b, rd, levels, (-.5, .5), (-.1, .3))
    np.testing.assert_array_equal(out.asnumpy(), want)
    # The fully connected range spreads uint8 data over 255 levels.
    top = product_max(rd, levels, (-.5, .5))
    assert mx_.asscalar() == top and mn.asscalar() == -top


def quantize(x, levels):
    """Symmetric quantization of a float array: levels over max|x|."""
    r = float(np.abs(x).max())
    return np.round(x * levels / r).astype(np.int64), r


def dequantize(q, lo, hi):
    return q.astype(np.float64) * max(abs(lo), abs(hi)) / 2147483647.0


@pytest.mark.parametrize('dt', ['int8', 'uint8'])
def test_dequantized_conv_is_the_float_conv(dt):
    rs = np.random.RandomState(5)
    xf = rs.uniform(-1 if dt == 'int8' else 0, 2, size=(2, 4, 6, 6)).astype(np.float32)
    wf = rs.uniform(-0.5, 0.5, size=(6, 2, 3, 3)).astype(np.float32)
    bf = rs.uniform(-1, 1, size=6).astype(np.float32)
    # The conv's range uses 127 levels for any data type; keep uint8 data inside them.
    xq, xr = quantize(xf, 127)
    wq, wr = quantize(wf, 127)
    bq, br = quantize(bf, 127)
    p = dict(kernel=(3, 3), num_filter=6, num_group=2, pad=(1, 1))
    for with_bias in (False, True):
        out, lo, hi = qconv(xq, wq, bq if with_bias else None, dt, (-xr, xr), (-wr, wr),
                            (-br, br), **p)
        got = dequantize(out.asnumpy(), lo.asscalar(), hi.asscalar())
        xd = mx.nd.array(xq * xr / 127)
        wd = mx.nd.array(wq * wr / 127)
        want = mx.nd.Convolution(xd, wd, no_bias=True, **p).asnumpy().astype(np.float64)
        level = hi.asscalar() / 2147483647.0
        if with_bias:
            # the rescaled bias is truncated to the output's int32 levels: within one level
            want += (bq * br / 127).reshape(1, -1, 1, 1)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=level + 1e-6)


@pytest.mark.parametrize('dt', ['int8', 'uint8'])
def test_dequantized_fc_is_the_float_fc(dt):
    rs = np.random.RandomState(6)
    levels = 127 if dt == 'int8' else 255
    xf = rs.uniform(-1 if dt == 'int8' else 0, 2, size=(4, 30)).astype(np.float32)
    wf = rs.uniform(-0.5, 0.5, size=(7, 30)).astype(np.float32)
    bf = rs.uniform(-1, 1, size=7).astype(np.float32)
    xq, xr = quantize(xf, levels)
    wq, wr = quantize(wf, 127)
    bq, br = quantize(bf, 127)
    rd = (-xr, xr) if dt == 'int8' else (0, xr)
    out, lo, hi = qfc(xq, wq, bq, dt, rd, (-wr, wr), (-br, br), num_hidden=7)
    got = dequantize(out.asnumpy(), lo.asscalar(), hi.asscalar())
    want = mx.nd.FullyConnected(mx.nd.array(xq * xr / levels), mx.nd.array(wq * wr / 127),
                                mx.nd.array(bq * br / 127), num_hidden=7).asnumpy()
    # MXNet's bias rescale uses 127.5-level scales: the bias lands within 0.5 % of its value.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0.005 * br + 1e-5)


def test_symbol_arguments_and_inference():
    # MXNet 1.9.1's list_arguments, with and without no_bias.
    conv = mx.sym.contrib.quantized_conv(kernel=(3, 3), num_filter=4, name='qc')
    assert conv.list_arguments() == [
        'qc_data', 'qc_weight', 'qc_bias', 'qc_min_data', 'qc_max_data', 'qc_min_weight',
        'qc_max_weight', 'qc_min_bias', 'qc_max_bias']
    assert conv.list_outputs() == ['qc_output', 'qc_min_output', 'qc_max_output']
    nb = mx.sym.contrib.quantized_conv(kernel=(3, 3), num_filter=4, no_bias=True, name='qn')
    assert nb.list_arguments() == ['qn_data', 'qn_weight', 'qn_min_data', 'qn_max_data',
                                   'qn_min_weight', 'qn_max_weight']
    fc = mx.sym.contrib.quantized_fully_connected(num_hidden=5, name='qf')
    assert fc.list_arguments() == [
        'qf_data', 'qf_weight', 'qf_bias', 'qf_min_data', 'qf_max_data', 'qf_min_weight',
        'qf_max_weight', 'qf_min_bias', 'qf_max_bias']
    fnb = mx.sym.contrib.quantized_fully_connected(num_hidden=5, no_bias=True, name='qg')
    assert fnb.list_arguments() == ['qg_data', 'qg_weight', 'qg_min_data', 'qg_max_data',
                                    'qg_min_weight', 'qg_max_weight']

    args, outs, _ = conv.infer_shape(qc_data=(2, 8, 10, 10))
    assert args == [(2, 8, 10, 10), (4, 8, 3, 3), (4,)] + [(1,)] * 6
    assert outs == [(2, 4, 8, 8), (1,), (1,)]
    args, outs, _ = fc.infer_shape(qf_data=(3, 2, 6))
    assert args == [(3, 2, 6), (5, 12), (5,)] + [(1,)] * 6
    assert outs == [(3, 5), (1,), (1,)]
    at, ot, _ = conv.infer_type(qc_data='uint8')
    assert at == [np.uint8, np.int8, np.int8] + [np.float32] * 6
    assert ot == [np.int32, np.float32, np.float32]


def test_symbol_executes_like_ndarray():
    rs = np.random.RandomState(2)
    x = rs.randint(-128, 128, size=(2, 6))
    w = rs.randint(-128, 128, size=(3, 6))
    fc = mx.sym.contrib.quantized_fully_connected(num_hidden=3, no_bias=True, name='q')
    ex = fc.bind(mx.cpu(), {'q_data': nd(x, 'int8'), 'q_weight': nd(w, 'int8'),
                            'q_min_data': f32(-1), 'q_max_data': f32(1),
                            'q_min_weight': f32(-2), 'q_max_weight': f32(2)})
    out = ex.forward()
    np.testing.assert_array_equal(out[0].asnumpy(), x @ w.T)
    assert out[2].asscalar() == product_max((-1, 1), 127, (-2, 2))


def test_errors_name_the_op_and_argument():
    x = np.zeros((1, 4, 5, 5))
    w = np.zeros((2, 4, 3, 3))
    p = dict(kernel=(3, 3), num_filter=2, no_bias=True)
    rng = [f32(-1), f32(1), f32(-1), f32(1)]
    with pytest.raises(_ERR, match='_contrib_quantized_conv.*data must be int8 or uint8.*float32'):
        mx.nd.contrib.quantized_conv(nd(x, 'float32'), nd(w, 'int8'), *rng, **p).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_quantized_conv.*weight must be int8.*uint8'):
        mx.nd.contrib.quantized_conv(nd(x, 'int8'), nd(w, 'uint8'), *rng, **p).wait_to_read()
    with pytest.raises(_ERR, match=r'_contrib_quantized_conv.*min_data must have shape \(1,\)'):
        mx.nd.contrib.quantized_conv(nd(x, 'int8'), nd(w, 'int8'), mx.nd.zeros((2,)), *rng[1:],
                                     **p).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_quantized_conv.*weight'):
        mx.nd.contrib.quantized_conv(nd(x, 'int8'), nd(np.zeros((2, 3, 3, 3)), 'int8'), *rng,
                                     **p).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_quantized_fully_connected.*inferred.*weight'):
        mx.nd.contrib.quantized_fully_connected(nd(np.zeros((2, 6)), 'int8'),
                                                nd(np.zeros((3, 5)), 'int8'), *rng,
                                                num_hidden=3, no_bias=True).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_quantized_fully_connected.*max_weight.*float32'):
        mx.nd.contrib.quantized_fully_connected(nd(np.zeros((2, 6)), 'uint8'),
                                                nd(np.zeros((3, 6)), 'int8'), *rng[:3],
                                                mx.nd.zeros((1,), dtype='float64'),
                                                num_hidden=3, no_bias=True).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_quantized_fully_connected.*bias must be int8'):
        mx.nd.contrib.quantized_fully_connected(nd(np.zeros((2, 6)), 'int8'),
                                                nd(np.zeros((3, 6)), 'int8'),
                                                nd(np.zeros(3), 'int32'), *rng, f32(-1), f32(1),
                                                num_hidden=3).wait_to_read()
