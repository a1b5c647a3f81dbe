"""Log triage: parse TensorFlow/absl/Keras/Python output lines, group them, explain known ones.

A trial's stdout and stderr are captured line by line with arrival time (``logs`` frame: ``t``,
``stream``, ``line``). Users cannot tell TensorFlow's routine chatter from real trouble, and blogs
explain some of these lines without any source, so the catalogue below only explains messages
whose emitting source we checked ourselves, each with the evidence:

- the TensorFlow 2.21 wheel installed here contains the message text (in
  ``libtensorflow_framework.so.2`` or ``libtensorflow_cc.so.2``) and TensorFlow's logger names the
  emitting ``.cc`` file in every line, which our captured fixtures (``tests/fixtures/logs``) show;
- Keras messages were read in the installed Keras 3 sources (file named in each entry).

Anything else is grouped and counted but shown with ``known: False`` and no explanation: we never
guess what a message means.

Line forms recognised::

    I0000 00:00:1700000000.123456   12345 file.cc:123] message          (glog via absl, TF >= 2.16)
    2024-01-01 12:00:00.000000: I tensorflow/core/x/file.cc:123] message  (older TF)
    WARNING: All log messages before absl::InitializeLog() is called ...    (absl pre-init notice)
    /path/to/file.py:12: UserWarning: message                            (Python warnings)
    Found 550 files belonging to 5 classes.   5/5 ━━━━ 1s 5ms/step - loss: 0.8  (Keras prints)

Indented lines (a warning's source echo, ``\\t [[{{node IteratorGetNext}}]]``) continue the
previous line of the same stream and are not counted on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CATALOGUE",
    "ParsedLine",
    "group_logs",
    "group_has",
    "match_catalogue",
    "parse_line",
    "template_of",
]

LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "fatal"}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GLOG = re.compile(
    r"^(?P<level>[IWEF])\d{4} \d\d:\d\d:\d+(?:\.\d+)?\s+\d+ (?P<file>[^\s:\]]+):(?P<line>\d+)\] ?(?P<msg>.*)$"
)
_GLOG_OLD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?: (?P<level>[IWEF]) (?P<file>[^\s:\]]+):(?P<line>\d+)\] ?(?P<msg>.*)$"
)
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_PY_WARNING = re.compile(
    r"^(?P<path>\S.*?\.py):(?P<line>\d+): (?P<category>[A-Za-z_]*(?:Warning|Error)): (?P<msg>.*)$"
)
_KERAS_PROGRESS = re.compile(r"^\d+/\d+ (?:\S*━|\[|- )")
_TRACEBACK = re.compile(r"^(Traceback \(most recent call last\):|[A-Za-z_.]*(Error|Exception): )")

_HEX = re.compile(r"0x[0-9a-fA-F]+|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b")
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:\.{0,2}/)(?:[\w.@+-]+/)*[\w.@+-]+/?")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?")
_BAR = re.compile(r"━+|\[[=>.]{3,}\]")


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    pattern: re.Pattern[str]  # searched in the message (after the glog/warning header)
    source: str  # the file that emits it
    explanation: str
    benign: bool
    reference: str  # how we verified it, and issue threads
    sources: tuple[str, ...] = ()  # basenames the parsed source must match (empty: any)
    continuation: re.Pattern[str] | None = None  # an unprefixed next line that belongs to it
    # Expected when TensorFlow found no GPU (the worker's ready event lists none): CUDA's own
    # initialisation failing is then how TensorFlow learns there is none, not an error.
    expected_without_gpu: bool = False


def _entry(id_: str, pattern: str, source: str, explanation: str, benign: bool, reference: str, **kw: Any):
    return CatalogueEntry(id_, re.compile(pattern), source, explanation, benign, reference, **kw)


NO_GPU_EXPECTED = "Expected here: TensorFlow found no GPU on this machine (the worker listed none). "
_TF_FRAMEWORK = "text present in TF 2.21 libtensorflow_framework.so.2; the log line names the file"
_TF_CC = "text present in TF 2.21 libtensorflow_cc.so.2; the log line names the file"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    _entry(
        "end_of_sequence",
        r"Local rendezvous is aborting with status: OUT_OF_RANGE: End of sequence",
        "tensorflow/core/framework/local_rendezvous.cc",
        "A tf.data iterator reached the end of its data inside a traced function (typically the "
        "last step of an epoch in model.fit or a take(n) loop). TensorFlow reports the end of input "
        "as an aborted rendezvous with status OUT_OF_RANGE. Nothing failed; only other statuses "
        "than OUT_OF_RANGE on this line signal a real error.",
        True,
        _TF_FRAMEWORK + "; tensorflow#62963, tensorflow#68593",
        sources=("local_rendezvous.cc",),
    ),
    _entry(
        "partial_cache",
        r"The calling iterator did not fully read the dataset being cached",
        "tensorflow/core/kernels/data/cache_dataset_ops.cc",
        "An iterator over a .cache() dataset was destroyed before reaching the end, so TensorFlow "
        "discarded the partially filled cache: the next epoch reads and decodes from the source "
        "again and the cache never pays off. It happens with cache().take(k) or when a loop breaks "
        "early; put take(k) before cache(). Exception measured with TF 2.21: a file cache "
        "(cache(filename)) logs it once even when the first epoch reads to the end, and the cache "
        "file is kept and reused (the map did not run again in later epochs).",
        False,
        _TF_CC + "; captured in tests/fixtures/logs/cache_break_early.stderr.txt and "
        "file_cache_full_read.stderr.txt",
        sources=("cache_dataset_ops.cc",),
    ),
    _entry(
        "generator_memory_patch",
        r"Memory patch applied: M_TRIM_THRESHOLD=",
        "tensorflow/core/kernels/data/generator_dataset_op.cc",
        "TensorFlow set glibc malloc's trim threshold (M_TRIM_THRESHOLD) to 128 KiB when a "
        "from_generator dataset started, so freed heap memory goes back to the OS sooner. Harmless, "
        "but it changes allocator behaviour for the rest of the process: RSS of a generator trial is "
        "not directly comparable with a trial that did not apply it.",
        True,
        _TF_CC + "; captured in tests/fixtures/logs/from_generator_fit.stderr.txt",
        sources=("generator_dataset_op.cc",),
    ),
    _entry(
        "cpu_feature_guard",
        r"This TensorFlow binary is optimized to use available CPU instructions",
        "tensorflow/core/platform/cpu_feature_guard.cc",
        "Printed once at import: the wheel was built for a baseline CPU and lists instructions this "
        "CPU has that a source build could use. Informational only.",
        True,
        _TF_FRAMEWORK + "; captured in every fixture",
        sources=("cpu_feature_guard.cc",),
        continuation=re.compile(r"^To enable the following instructions: "),
    ),
    _entry(
        "onednn_on",
        r"oneDNN custom operations are on",
        "port.cc (TensorFlow platform)",
        "Printed at import: oneDNN (Intel) kernels are enabled on CPU, which can change float results "
        "slightly; TF_ENABLE_ONEDNN_OPTS=0 turns them off. Informational only.",
        True,
        _TF_FRAMEWORK + "; captured in every fixture",
        sources=("port.cc",),
    ),
    _entry(
        "no_cuda_drivers",
        r"Could not find cuda drivers on your machine, GPU will not be used",
        "cudart_stub.cc",
        "No NVIDIA driver was found, so TensorFlow runs on CPU. Expected on a machine without a GPU.",
        True,
        _TF_FRAMEWORK + "; captured in every fixture",
        sources=("cudart_stub.cc",),
        expected_without_gpu=True,
    ),
    _entry(
        "cuinit_failed",
        r"failed call to cuInit",
        "cuda_platform.cc",
        "TensorFlow tried to initialise CUDA and the driver call failed, so it uses the CPU. Expected "
        "on a machine without a usable GPU; on a GPU machine it means the driver is not usable.",
        True,
        _TF_FRAMEWORK + "; captured in every fixture",
        sources=("cuda_platform.cc",),
        expected_without_gpu=True,
    ),
    _entry(
        "absl_preinit",
        re.escape(_ABSL_PREINIT),
        "abseil logging (linked into libtensorflow_framework.so.2)",
        "absl's notice that log lines emitted before its logging is initialised go to stderr. "
        "Printed at TensorFlow import; informational only.",
        True,
        "text present in TF 2.21 libtensorflow_framework.so.2; captured in every fixture",
    ),
    _entry(
        "keras_found_files",
        r"^Found \d+ files belonging to \d+ classes\.$|^Found \d+ files\.$",
        "keras/src/utils/dataset_utils.py",
        "keras.utils.image_dataset_from_directory reports how many image files and classes it found.",
        True,
        "io_utils.print_msg in keras/src/utils/dataset_utils.py (Keras 3.15)",
    ),
    _entry(
        "keras_found_images",
        r"^Found \d+ images belonging to \d+ classes\.$",
        "keras/src/legacy/preprocessing/image.py",
        "ImageDataGenerator.flow_from_directory reports how many images and classes it found.",
        True,
        "print in keras/src/legacy/preprocessing/image.py (Keras 3.15)",
    ),
    _entry(
        "keras_using_files",
        r"^Using \d+ files for (training|validation)\.$",
        "keras/src/utils/dataset_utils.py",
        "image_dataset_from_directory with validation_split reports the size of each subset.",
        True,
        "io_utils.print_msg in keras/src/utils/dataset_utils.py (Keras 3.15)",
    ),
    _entry(
        "keras_shuffle_ignored",
        r"`shuffle=True` was passed, but will be ignored since the data `x` was provided as",
        "keras/src/trainers/data_adapters/__init__.py",
        "model.fit's shuffle=True (its default) does not apply to a tf.data.Dataset, PyDataset with "
        "no length, generator or DataLoader; the data is used in the order the pipeline gives. "
        "Shuffle inside the pipeline (e.g. dataset.shuffle(buffer)) if order matters.",
        True,
        "warnings.warn in get_data_adapter, keras/src/trainers/data_adapters/__init__.py (Keras 3.15); "
        "shown with the caller epoch_iterator.py because of stacklevel=2",
    ),
    _entry(
        "keras_ran_out_of_data",
        r"Your input ran out of data; interrupting training",
        "keras/src/trainers/epoch_iterator.py",
        "model.fit asked for more batches (steps_per_epoch x epochs) than the dataset gave, so the "
        "epoch stopped early: later epochs may have trained on nothing. Add .repeat() or lower "
        "steps_per_epoch.",
        False,
        "keras/src/trainers/epoch_iterator.py (Keras 3.15)",
    ),
    _entry(
        "keras_pydataset_super",
        r"Your `PyDataset` class should call `super\(\).__init__\(\*\*kwargs\)`",
        "keras/src/trainers/data_adapters/py_dataset_adapter.py",
        "A PyDataset subclass did not call super().__init__, so workers, use_multiprocessing and "
        "max_queue_size fall back to 1, False and 10.",
        False,
        "warnings.warn in keras/src/trainers/data_adapters/py_dataset_adapter.py (Keras 3.15)",
    ),
    _entry(
        "keras_epoch",
        r"^Epoch \d+/\d+$",
        "keras/src/callbacks/progbar_logger.py",
        "model.fit's progress logger announces each epoch.",
        True,
        "io_utils.print_msg in keras/src/callbacks/progbar_logger.py (Keras 3.15)",
    ),
    _entry(
        "keras_progress",
        r"^\d+/\d+ ",
        "keras/src/utils/progbar.py",
        "model.fit's progress bar (steps done, time per step, metrics).",
        True,
        "keras/src/utils/progbar.py (Keras 3.15)",
        sources=("progbar.py",),
    ),
)

_BY_ID = {entry.id: entry for entry in CATALOGUE}


@dataclass
class ParsedLine:
    """One output line taken apart. ``source`` is the emitting file's basename when the line says."""

    kind: str  # glog | absl | python_warning | keras_progress | traceback | plain
    level: str  # info | warning | error | fatal
    source: str | None
    message: str
    continuation: list[str] = field(default_factory=list)


def _clean(line: str) -> str:
    """What a terminal would show: progress bars redraw with carriage returns and backspaces."""
    text = _ANSI.sub("", line.rstrip("\r\n"))
    if "\r" not in text and "\b" not in text:
        return text
    screen: list[str] = []
    cursor = 0
    for char in text:
        if char == "\r":
            cursor = 0
        elif char == "\b":
            cursor = max(0, cursor - 1)
        else:
            if cursor < len(screen):
                screen[cursor] = char
            else:
                screen.append(char)
            cursor += 1
    return "".join(screen)


def parse_line(line: str, stream: str = "stderr") -> ParsedLine:
    text = _clean(line)
    match = _GLOG.match(text) or _GLOG_OLD.match(text)
    if match:
        source = match["file"].rsplit("/", 1)[-1]
        return ParsedLine("glog", LEVELS[match["level"]], source, match["msg"])
    if text.strip() == _ABSL_PREINIT:
        return ParsedLine("absl", "info", "absl", text.strip())
    match = _PY_WARNING.match(text)
    if match:
        path = match["path"]
        # Keep the package-relative path (keras/src/...), not the user's install location.
        source = path.split("site-packages/", 1)[-1] if "site-packages/" in path else path.rsplit("/", 1)[-1]
        level = "error" if match["category"].endswith("Error") else "warning"
        return ParsedLine("python_warning", level, source, f"{match['category']}: {match['msg']}")
    stripped = text.strip()
    if _KERAS_PROGRESS.match(stripped):
        return ParsedLine("keras_progress", "info", "progbar.py", stripped)
    if _TRACEBACK.match(stripped):
        return ParsedLine("traceback", "error", None, stripped)
    return ParsedLine("plain", "info", None, stripped)


def template_of(message: str) -> str:
    """Normalise the variable parts: bars, hex, paths, then numbers."""
    text = _BAR.sub("<bar>", message)
    text = _HEX.sub("<hex>", text)
    text = _PATH.sub("<path>", text)
    text = _NUMBER.sub("<n>", text)
    return re.sub(r"\s+", " ", text).strip()


def match_catalogue(parsed: ParsedLine) -> CatalogueEntry | None:
    for entry in CATALOGUE:
        if entry.sources and parsed.source not in entry.sources:
            continue
        if entry.pattern.search(parsed.message):
            return entry
    return None


def _epoch_index(t: float, epoch_starts: list[float]) -> int:
    """-1 before the first epoch, else the index of the last epoch started at or before t."""
    index = -1
    for i, start in enumerate(epoch_starts):
        if t >= start:
            index = i
        else:
            break
    return index


def group_logs(
    logs: Any, epoch_starts: list[float] | None = None, *, gpus: list[str] | None = None
) -> list[dict[str, Any]]:
    """Group a logs frame (columns t, stream, line) by template.

    Each group: template, count, level, source, known, benign, explanation, reference,
    catalogue_id, stream, example (first line as printed), per_epoch (counts per epoch index),
    before_epochs (count before the first epoch_start), times (each line's t, for charts) and
    expected (a line that is expected on this machine whatever its level: ``gpus`` is the list of
    GPUs TensorFlow found, [] on a CPU-only machine, None when unknown).
    """
    epoch_starts = sorted(epoch_starts or [])
    groups: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
    previous: dict[str, tuple[ParsedLine, CatalogueEntry | None]] = {}
    if logs is None or len(logs) == 0:
        return []
    for row in logs.itertuples(index=False):
        line = str(getattr(row, "line", "") or "")
        stream = str(getattr(row, "stream", "stderr") or "stderr")
        t = float(getattr(row, "t", 0.0) or 0.0)
        if not _clean(line).strip():
            continue
        prior = previous.get(stream)
        if prior is not None:
            parsed_prior, entry_prior = prior
            is_indented = line[:1] in (" ", "\t") and parsed_prior.kind in (
                "glog",
                "python_warning",
                "traceback",
            )
            is_known_tail = (
                entry_prior is not None
                and entry_prior.continuation is not None
                and entry_prior.continuation.search(_clean(line))
            )
            if is_indented or is_known_tail:
                parsed_prior.continuation.append(_clean(line).strip())
                continue
        parsed = parse_line(line, stream)
        entry = match_catalogue(parsed)
        previous[stream] = (parsed, entry)
        template = template_of(parsed.message)
        key = (stream, parsed.level, parsed.source, template)
        group = groups.get(key)
        if group is None:
            expected = bool(entry and entry.expected_without_gpu and gpus == [])
            group = groups[key] = {
                "template": template,
                "count": 0,
                "level": parsed.level,
                "source": entry.source if entry else parsed.source,
                "known": entry is not None,
                "benign": entry.benign if entry else None,
                "explanation": (NO_GPU_EXPECTED if expected else "") + entry.explanation if entry else None,
                "reference": entry.reference if entry else "no verified source",
                "catalogue_id": entry.id if entry else None,
                "stream": stream,
                "kind": parsed.kind,
                "example": _clean(line).strip(),
                "per_epoch": [0] * len(epoch_starts),
                "before_epochs": 0,
                "times": [],
                "expected": expected,
            }
        group["count"] += 1
        group["times"].append(t)
        index = _epoch_index(t, epoch_starts)
        if index < 0:
            group["before_epochs"] += 1
        else:
            group["per_epoch"][index] += 1
    # Unknown and non-benign first, then by count: what needs a look comes to the top.
    return sorted(
        groups.values(),
        key=lambda g: (g["known"] and g["benign"] is True, -g["count"], g["template"]),
    )


def group_has(groups: list[dict[str, Any]], catalogue_id: str) -> dict[str, Any] | None:
    """The group of a catalogue entry, if any line matched it."""
    if catalogue_id not in _BY_ID:
        raise KeyError(catalogue_id)
    for group in groups:
        if group.get("catalogue_id") == catalogue_id:
            return group
    return None
