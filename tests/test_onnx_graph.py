import numpy as np
import onnxruntime as ort

from puppet.generators import onnx_graph as og


def test_arithmetic_slicing_and_matmul_trace_to_onnx():
    g = og.GraphBuilder("t")
    x = g.input("x", og.FLOAT, [3, 4])
    y = (x * 2.0 + 1.0) / 4.0 - x[:, 1:2]
    z = g.transpose(y, [1, 0]) @ x
    g.output(z, "z", og.FLOAT, [4, 4])
    sess = ort.InferenceSession(g.to_model({"k": "v"}).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    xv = np.arange(12, dtype=np.float32).reshape(3, 4)
    yv = (xv * 2 + 1) / 4 - xv[:, 1:2]
    np.testing.assert_allclose(sess.run(None, {"x": xv})[0], yv.T @ xv, rtol=1e-6)


def test_constants_are_shared():
    g = og.GraphBuilder("t")
    a = g.const([1.0, 2.0])
    b = g.const([1.0, 2.0])
    assert a.name == b.name and len(g.initializers) == 1
