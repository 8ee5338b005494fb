"""fastrnn.onnx._proto: load, verify and the backend read files, tensors, declared
shapes and attributes through one module, so they refuse the same things in the
same words."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fastrnn
import fastrnn.onnx
from fastrnn.onnx import _load, _proto, backend


def _single_rnn(attributes, H=3, I=2, D=1):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((D, H, I)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((D, H, H)).astype(np.float32), "R")]
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y", "Y_h"], name="rnn", **attributes)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "N", I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def _errors(model):
    """(load's error, prepare's error) for a model both refuse."""
    with pytest.raises(fastrnn.onnx.UnsupportedModelError) as loading:
        fastrnn.onnx.load(model)
    with pytest.raises(fastrnn.onnx.UnsupportedModelError) as preparing:
        backend.prepare(model)
    return loading.value, preparing.value


def test_error_classes_are_the_same_everywhere():
    assert _load.UnsupportedModelError is _proto.UnsupportedModelError \
        is fastrnn.onnx.UnsupportedModelError
    assert _load.InvalidModelError is _proto.InvalidModelError is fastrnn.onnx.InvalidModelError
    assert issubclass(_proto.InvalidModelError, _proto.UnsupportedModelError)
    assert issubclass(_proto.UnsupportedModelError, ValueError)
    assert _load.read_model is _proto.read_model


@pytest.mark.parametrize("name, value, message", [
    ("hidden_size", 3.0, r"attribute hidden_size must be an integer \(int\), got FLOAT"),
    ("direction", 1, r"attribute direction must be a string \(string\), got INT"),
    ("activations", "Tanh", r"attribute activations must be a list of strings \(strings\), "
                            r"got STRING"),
    ("clip", [1.0], r"attribute clip must be a number \(float\), got FLOATS"),
])
def test_an_attribute_of_the_wrong_type_gets_one_message(name, value, message):
    attributes = dict(hidden_size=3)
    attributes[name] = value
    loading, preparing = _errors(_single_rnn(attributes))
    assert type(loading) is type(preparing) is _proto.InvalidModelError
    assert str(loading) == str(preparing)
    assert str(loading).startswith("node 0 (RNN 'rnn'): ")
    with pytest.raises(_proto.InvalidModelError, match=message):
        backend.prepare(_single_rnn(attributes))


def test_text_that_is_not_utf8_is_refused_not_replaced():
    model = _single_rnn(dict(hidden_size=3))
    model.graph.node[0].attribute.append(helper.make_attribute("direction", b"forw\xffard"))
    loading, preparing = _errors(model)
    assert str(loading) == str(preparing) == \
        "node 0 (RNN 'rnn'): attribute direction is not UTF-8 text"


def test_function_attribute_references_are_refused_by_both():
    model = _single_rnn(dict(hidden_size=3))
    reference = onnx.AttributeProto(name="clip", ref_attr_name="outer_clip",
                                    type=onnx.AttributeProto.FLOAT)
    model.graph.node[0].attribute.append(reference)
    loading, preparing = _errors(model)
    assert str(loading) == str(preparing)
    assert "refers to a function attribute (outer_clip)" in str(loading)


def test_external_data_without_a_path_is_refused_by_both(tmp_path):
    model = fastrnn.RNN(2, 3, seed=0)
    onnx.save_model(fastrnn.onnx.export(model, None), tmp_path / "ext.onnx",
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    data = (tmp_path / "ext.onnx").read_bytes()
    loading, preparing = _errors(data)
    assert str(loading) == str(preparing)
    assert "is stored as external data; read the model from its path" in str(loading)
    # from the path, both find the data
    x = np.ones((4, 1, 2), np.float32)
    np.testing.assert_array_equal(backend.prepare(tmp_path / "ext.onnx").run([x])[0],
                                  fastrnn.onnx.load(tmp_path / "ext.onnx")(x)[0])


def _set_location(proto, location):
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location


@pytest.mark.parametrize("location, message", [
    ("missing.data", r"has unreadable external data: .*missing\.data, but it is not regular"),
    ("/etc/hostname", r"has unreadable external data: .*should be a relative path, but it is "
                      r"an absolute path: /etc/hostname"),
    ("../outside.data", r"has unreadable external data: .*'\.\./outside\.data' points outside "
                        r"the directory"),
])
def test_bad_external_data_locations_are_invalid_models(tmp_path, location, message):
    """onnx's own ValidationError for an external data location becomes InvalidModelError,
    keeping onnx's words, in load and in the backend."""
    model = fastrnn.RNN(2, 3, seed=0)
    directory = tmp_path / "model"
    directory.mkdir()
    onnx.save_model(fastrnn.onnx.export(model, None), directory / "ext.onnx",
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    proto = onnx.load(directory / "ext.onnx", load_external_data=False)
    _set_location(proto, location)
    onnx.save_model(proto, directory / "bad.onnx")
    for read in (fastrnn.onnx.load, backend.prepare):
        with pytest.raises(_proto.InvalidModelError, match=message) as caught:
            read(directory / "bad.onnx")
        assert str(caught.value).startswith(f"file {str(directory / 'bad.onnx')!r} ")
        assert isinstance(caught.value.__cause__, onnx.checker.ValidationError)


def test_a_text_mode_file_object_is_refused_before_reading(tmp_path):
    path = tmp_path / "m.onnx"
    fastrnn.onnx.export(fastrnn.RNN(2, 3, seed=0), path)
    with open(path, "r", encoding="utf-8") as text_file:  # ONNX bytes are not UTF-8 text
        with pytest.raises(UnicodeDecodeError):
            text_file.read()
    for read in (fastrnn.onnx.load, backend.prepare):
        with open(path, "r", encoding="utf-8") as text_file:
            with pytest.raises(TypeError, match=r"opened in binary mode \('rb'\), got a text "
                                                r"file"):
                read(text_file)

    class TextReader:  # not an io.TextIOBase, but read() decodes
        def read(self):
            return path.read_bytes().decode("utf-8")

    with pytest.raises(TypeError, match=r"opened in binary mode \('rb'\); reading it as text "
                                        r"failed: 'utf-8' codec can't decode"):
        fastrnn.onnx.load(TextReader())


def test_declared_dims_runtime_inputs_and_labels():
    symbolic = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 0, 5])
    assert _proto.declared_dims(symbolic) == [None, 0, 5]
    assert _proto.declared_dims(helper.make_tensor_value_info("s", TensorProto.FLOAT, [])) == []
    assert _proto.declared_dims(helper.make_tensor_value_info("u", TensorProto.FLOAT, None)) \
        is None
    model = _single_rnn(dict(hidden_size=3))
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 3, 2]))
    assert [v.name for v in _proto.runtime_inputs(model.graph)] == ["X"]
    node = model.graph.node[0]
    assert _proto.node_label(node, 4) == "node 4 (RNN 'rnn')"
    node.name = ""
    assert _proto.node_label(node, 0) == "node 0 (RNN)"
