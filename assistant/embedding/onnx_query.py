"""Query vectors through ONNX Runtime: the same encoder, exported once, without torch's overhead.

A question is a few dozen tokens. At that size torch spends most of a forward pass in Python —
a dozen layers of module calls, under the GIL — and ONNX Runtime runs the same graph in about
half the time (measured on these 2 cores, one thread: 11 vs 18 ms for 12 tokens, 14 vs 20 ms for
20) and releases the GIL for all of it, so two requests really use two cores. With the matrix
products quantised to int8 (``settings.query_int8``, off by default) it takes 8 ms. Passages are not
sent here: in batches torch's bf16 kernels are faster, and the index keeps full-precision vectors.

The graph is exported from the loaded sentence-transformers model (transformer + mean pooling),
starting from the token vectors rather than the token ids: the vocabulary's 250k × 384 table is
gathered with numpy (``table[ids]``), so the graph holds only the encoder (~86 MB instead of
~470 MB). Graph, table and tokenizer are written once per model identity into the serving bundle
(``bundle.py``) and the graph is checked against torch's stored vectors of the probe texts every
time it is opened (cosine ≥ :data:`MIN_AGREEMENT`). Opening it needs ONNX Runtime and numpy only.
"""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from assistant.embedding.bundle import ServingBundle

#: The exported graph must give the same vectors as torch: at least this cosine on every probe.
MIN_AGREEMENT = 0.9999
#: ... and the int8 graph at least this (measured: ≥ 0.9947 on all 151 evaluation questions).
MIN_AGREEMENT_INT8 = 0.99


class OnnxUnavailable(RuntimeError):
    """The query encoder cannot run on ONNX Runtime (the reason says why)."""


class OnnxQueryEncoder:
    """Mean-pooled (not normalised) vectors for tokenised sequences, like ``Embedder._pool``."""

    def __init__(self, session: Any, table: np.ndarray, path: Path, int8: bool = False):
        self.session = session
        self.table = table  # the word-embedding table, memory-mapped from the bundle
        self.path = path
        self.int8 = int8

    @classmethod
    def open(cls, bundle: ServingBundle, threads: int = 1, int8: bool = False) -> OnnxQueryEncoder:
        """The bundle's encoder, verified against torch's probe vectors.

        ``int8`` quantises the graph's matrix products to int8 with one scale per output channel
        (ONNX Runtime's dynamic quantisation; done once, beside the fp32 graph): about 40% faster
        again (8 vs 14 ms a question), with vectors at cosine ≥ 0.995 to fp32 on the evaluation's
        questions and the same retrieval results on all of them with distractors in the index (hit@1/5,
        MRR, refusals); over the one shipped reply alone it flipped 2 of 84 borderline questions to
        refusals, which is why it is off by default. Checked here at ≥ :data:`MIN_AGREEMENT_INT8`.
        """
        from assistant.embedding.bundle import ENCODER_INT8

        path = bundle.folder / ENCODER_INT8 if int8 else bundle.encoder_path
        for attempt in range(2):
            try:
                if int8 and not path.is_file():
                    quantize(bundle.encoder_path, path)
                encoder = cls(_session(path, threads), bundle.table(), path, int8)
                encoder.check(bundle)
                return encoder
            except Exception as exc:  # an int8 graph made from another export: quantise afresh, once
                if attempt or not int8:
                    raise OnnxUnavailable(f"the exported encoder disagrees with torch or fails: {exc}") from exc
                path.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def pool(self, sequences: list[list[int]], pad_id: int) -> np.ndarray:
        width = max(len(s) for s in sequences)
        ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        (pooled,) = self.session.run(None, {"inputs_embeds": self.table[ids], "attention_mask": mask})
        return pooled

    def check(self, bundle: ServingBundle) -> None:
        """Raise unless the graph reproduces torch's vectors of the probe texts."""
        ours = self.pool([list(ids) for ids in bundle.probe_ids], bundle.layout.pad_id)
        theirs = bundle.probe_vectors
        cosine = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
        needed = MIN_AGREEMENT_INT8 if self.int8 else MIN_AGREEMENT
        if float(cosine.min()) < needed:
            raise OnnxUnavailable(f"cosine to torch {float(cosine.min()):.6f} < {needed}")


def mean_pooled_parts(model: SentenceTransformer) -> tuple[Any, np.ndarray]:
    """The transformer to export and its word-embedding table, or OnnxUnavailable for other shapes."""
    modules = list(model)
    transformer = modules[0] if modules else None
    auto_model = getattr(transformer, "auto_model", None)
    pooling = next((m for m in modules if type(m).__name__ == "Pooling"), None)
    embeddings = getattr(getattr(auto_model, "embeddings", None), "word_embeddings", None)
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None and getattr(pooling, "pooling_mode_mean_tokens", False):  # sentence-transformers 5
        mode = "mean"
    if auto_model is None or embeddings is None or mode != "mean":
        raise OnnxUnavailable("only mean-pooled encoders with a word-embedding table are exported")
    return auto_model, embeddings.weight.detach().numpy()


def quantize(fp32: Path, path: Path) -> None:
    """Int8 weights, one scale per output channel, for every MatMul; written atomically."""
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # its advice to pre-process applies to image models
        try:
            quantize_dynamic(_inline_weights(fp32), str(staging), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], per_channel=True)
        finally:
            logging.disable(logging.NOTSET)
        os.replace(staging, path)
    except Exception as exc:
        raise OnnxUnavailable(f"quantising the encoder failed: {exc}") from exc
    finally:
        staging.unlink(missing_ok=True)


def _inline_weights(path: Path):
    """The graph at ``path`` with its external weights read back into it. ``onnx.load`` would read them
    too, but refuses a weights file with several hard links (as a copied models folder may have)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {entry.key: entry.value for entry in tensor.external_data}
            with open(path.parent / info["location"], "rb") as f:
                f.seek(int(info.get("offset", 0)))
                tensor.raw_data = f.read(int(info["length"]))
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
    return model


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # the arena kept ~65 MB more for no speed (measured)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_encoder(auto_model: Any, path: Path) -> None:
    """Transformer + mean pooling from token vectors, as ONNX, written atomically."""
    try:
        import onnx  # noqa: F401 - torch's exporter needs it; say so plainly when it is missing
        import torch
    except ImportError as exc:
        raise OnnxUnavailable(f"cannot export to ONNX: {exc}") from exc

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder: Any):
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds, attention_mask):
            hidden = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    hidden_size = auto_model.config.hidden_size
    example = (torch.zeros(1, 4, hidden_size), torch.ones(1, 4, dtype=torch.long))
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing and indexing
            torch.onnx.export(
                MeanPooled(auto_model).eval(), example, str(staging),
                input_names=["inputs_embeds", "attention_mask"], output_names=["pooled"],
                dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"},
                              "attention_mask": {0: "batch", 1: "tokens"}, "pooled": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        os.replace(staging, path)
    except Exception as exc:
        raise OnnxUnavailable(f"exporting the encoder to ONNX failed: {exc}") from exc
    finally:
        staging.unlink(missing_ok=True)
