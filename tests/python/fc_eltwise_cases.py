"""The eltwise post-op of MXNet's FC/conv fusion, built the same way by real MXNet 1.9.1
(sg_mkldnn_fc_eltwise_mxnet_ref.py, which writes the fixtures) and by oxnet
(test_sg_mkldnn_fc_eltwise.py); ``mx`` is the module to build with."""


def eltwise(mx, x, kind):
    if kind in ("relu", "sigmoid", "tanh", "softrelu"):
        return mx.sym.Activation(x, act_type=kind, name="act")
    if kind == "leaky":
        return mx.sym.LeakyReLU(x, act_type="leaky", slope=0.1, name="act")
    if kind == "elu":
        return mx.sym.LeakyReLU(x, act_type="elu", slope=0.3, name="act")
    if kind == "gelu":
        return mx.sym.LeakyReLU(x, act_type="gelu", name="act")
    if kind == "clip":
        # a bound that fc0's outputs pass, so that it shows
        return mx.sym.clip(x, a_min=0, a_max=0.75, name="act")
    return getattr(mx.sym, kind)(x, name="act")
