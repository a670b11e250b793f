"""``kafkaml-send``: stream a data set to a Kafka-ML training deployment.

Examples::

    kafkaml-send --sklearn digits --topic alice.digits --deployment-id 3 --validation-rate 0.1
    kafkaml-send mnist.npz --topic alice.mnist --deployment-id 1 --reshape "28 28"
    kafkaml-send features.npy --labels labels.npy --topic alice.t --deployment-id 1
    kafkaml-send table.csv --label-column species --format JSON --topic t --deployment-id 1
    kafkaml-send data.npz --topic alice.data --deployment-id 1 --security-protocol SASL_SSL \\
        --sasl-mechanism SCRAM-SHA-512 --sasl-username alice --sasl-password-file pw.txt

Sources: ``.npz`` (arrays ``x``/``y``, ``data``/``label``, ``X``/``y`` or ``x_train``/``y_train``),
``.npy`` (plus ``--labels FILE.npy``), ``.csv`` (numeric columns; header optional) or a data set
bundled with scikit-learn (``--sklearn digits|iris|wine``, no download).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .codecs import dtype_name, parse_dtype, parse_shape

SKLEARN_DATASETS = ("digits", "iris", "wine")
NPZ_KEYS = (("x", "y"), ("data", "label"), ("data", "labels"), ("X", "y"), ("x_train", "y_train"))


class CliError(Exception):
    """A problem with the user's input: printed without a traceback, exit code 2."""


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise CliError("--sklearn needs scikit-learn: pip install scikit-learn") from exc
    loaders = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }
    if name not in loaders:
        raise CliError(f"unknown scikit-learn data set {name!r}; choose {', '.join(loaders)}")
    bunch = loaders[name]()
    return np.asarray(bunch.data), np.asarray(bunch.target), f"scikit-learn {name} data set"


def load_npz(path: Path, data_key: str | None, label_key: str | None):
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        if data_key:
            if data_key not in npz:
                raise CliError(f"{path} has no array {data_key!r} (it has {', '.join(keys)})")
            x = npz[data_key]
            y = npz[label_key] if label_key else None
            if label_key and label_key not in npz:
                raise CliError(f"{path} has no array {label_key!r} (it has {', '.join(keys)})")
            return x, y
        for dk, lk in NPZ_KEYS:
            if dk in npz:
                return npz[dk], (npz[lk] if lk in npz else None)
        if len(keys) == 1:
            return npz[keys[0]], None
    raise CliError(
        f"{path}: cannot tell data from labels among the arrays {', '.join(keys)}; "
        "name them x/y (or data/label), or pass --data-key and --label-key"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_csv(path: Path, label_column: str | None, no_label: bool, delimiter: str):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh, delimiter=delimiter) if row]
    if not rows:
        raise CliError(f"{path} is empty")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise CliError(f"{path} has a header but no rows")
    width = len(rows[0])
    label_index = None
    if not no_label:
        if label_column is None:
            if header and "label" in header:
                label_index = header.index("label")
            else:
                label_index = width - 1
        elif header and label_column in header:
            label_index = header.index(label_column)
        else:
            try:
                label_index = int(label_column)
            except ValueError:
                raise CliError(
                    f"{path}: no column {label_column!r}"
                    + (
                        f" (columns: {', '.join(header)})"
                        if header
                        else " (the file has no header)"
                    )
                ) from None
            if label_index < 0:
                label_index += width
            if not 0 <= label_index < width:
                raise CliError(
                    f"{path}: column index {label_column} is out of range (0..{width - 1})"
                )
    data, labels = [], []
    for lineno, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise CliError(f"{path}:{lineno}: {len(row)} columns, expected {width}")
        try:
            values = [float(c) for c in row]
        except ValueError:
            raise CliError(f"{path}:{lineno}: non-numeric value in {row}") from None
        if label_index is not None:
            labels.append(values.pop(label_index))
        data.append(values)
    x = np.asarray(data, dtype=np.float64)
    y = None
    if label_index is not None:
        y = np.asarray(labels)
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)
    return x, y


def load_source(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None, str]:
    if args.sklearn:
        if args.source:
            raise CliError("give either a file or --sklearn, not both")
        return load_sklearn(args.sklearn)
    if not args.source:
        raise CliError("nothing to send: give a .npz/.npy/.csv file or --sklearn NAME")
    path = Path(args.source)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            x, y = load_npz(path, args.data_key, args.label_key)
        elif suffix == ".npy":
            x = np.load(path, allow_pickle=False)
            y = np.load(args.labels, allow_pickle=False) if args.labels else None
        elif suffix in (".csv", ".tsv", ".txt"):
            delimiter = args.delimiter or ("\t" if suffix == ".tsv" else ",")
            x, y = load_csv(path, args.label_column, args.no_label, delimiter)
        else:
            raise CliError(f"{path}: unsupported file type {suffix!r} (use .npz, .npy or .csv)")
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    if args.labels and suffix != ".npy":
        y = np.load(args.labels, allow_pickle=False)
    return x, y, path.name


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------


def _avro_type(dtype: np.dtype) -> str:
    if dtype.kind == "b":
        return "boolean"
    if dtype.kind == "f":
        return "double" if dtype.itemsize > 4 else "float"
    if dtype.kind in "iu":
        return (
            "int" if dtype.itemsize < 4 or (dtype.kind == "i" and dtype.itemsize == 4) else "long"
        )
    raise CliError(f"dtype {dtype} cannot be sent as Avro")


def avro_schemas(x: np.ndarray, y: np.ndarray | None) -> tuple[dict, dict | None]:
    width = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
    ftype = _avro_type(x.dtype)
    data = {
        "type": "record",
        "name": "sample",
        "namespace": "kafkaml",
        "fields": [{"name": f"f{i}", "type": ftype} for i in range(width)],
    }
    if y is None:
        return data, None
    lwidth = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
    ltype = _avro_type(y.dtype)
    names = ["label"] if lwidth == 1 else [f"l{i}" for i in range(lwidth)]
    label = {
        "type": "record",
        "name": "label",
        "namespace": "kafkaml",
        "fields": [{"name": n, "type": ltype} for n in names],
    }
    return data, label


class Progress:
    def __init__(self, total: int, quiet: bool, stream=sys.stderr):
        self.total = total
        self.quiet = quiet
        self.stream = stream
        self.start = time.perf_counter()
        self.next_report = 0.0

    def update(self, done: int, final: bool = False) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if not final and now < self.next_report:
            return
        self.next_report = now + 0.5
        elapsed = max(now - self.start, 1e-9)
        pct = 100.0 * done / self.total if self.total else 100.0
        end = "\n" if final or not self.stream.isatty() else "\r"
        self.stream.write(
            f"sent {done}/{self.total} records ({pct:5.1f}%) {done / elapsed:,.0f} records/s{end}"
        )
        self.stream.flush()


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kafkaml-send",
        description="Stream a data set to a Kafka-ML training deployment, then announce it "
        "with a control message.",
        epilog=__doc__.split("Examples::", 1)[1].split("Sources:", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="?", help=".npz, .npy or .csv file")
    p.add_argument(
        "--sklearn", choices=SKLEARN_DATASETS, help="a data set bundled with scikit-learn"
    )
    p.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    p.add_argument("--topic", required=True, help="topic the records go to")
    p.add_argument("--deployment-id", required=True, type=int, help="training deployment id")
    p.add_argument("--format", default="RAW", type=str.upper, choices=["RAW", "AVRO", "JSON"])
    p.add_argument("--validation-rate", type=float, default=0.0)
    p.add_argument("--test-rate", type=float, default=0.0)
    p.add_argument("--description", default=None)
    p.add_argument(
        "--control-topic",
        default=None,
        help="default: $KAFKAML_CONTROL_TOPIC or KAFKA_ML_CONTROL_TOPIC",
    )
    p.add_argument("--labels", help="labels file (.npy) for a .npy data file")
    p.add_argument("--data-key", help="name of the data array in an .npz file")
    p.add_argument("--label-key", help="name of the label array in an .npz file")
    p.add_argument(
        "--label-column",
        help="CSV label column: header name or index (default: "
        "'label' if present, else the last column)",
    )
    p.add_argument("--no-label", action="store_true", help="send values only (no keys)")
    p.add_argument("--delimiter", help="CSV delimiter (default ',')")
    p.add_argument(
        "--data-type",
        help="cast samples to this dtype (default: float32 for "
        "scikit-learn and CSV data, else the file's dtype)",
    )
    p.add_argument("--label-type", help="cast labels to this dtype")
    p.add_argument("--reshape", help="shape of one sample, e.g. '28 28' (default: as stored)")
    p.add_argument("--limit", type=int, help="send only the first N samples")
    p.add_argument(
        "--shuffle",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="shuffle before sending (default: on for --sklearn, whose sets are sorted by class)",
    )
    p.add_argument("--seed", type=int, default=0, help="shuffle seed")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds to wait for the broker to acknowledge everything (default 300)",
    )
    sec = p.add_argument_group(
        "security",
        "for a cluster that is not PLAINTEXT; each flag defaults to its KAFKA_* variable. "
        "The SASL password comes from --sasl-password-file, $KAFKA_SASL_PASSWORD or "
        "$KAFKA_SASL_PASSWORD_FILE, never from the command line.",
    )
    env = os.environ.get
    sec.add_argument(
        "--security-protocol",
        type=str.upper,
        default=env("KAFKA_SECURITY_PROTOCOL"),
        help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (default: $KAFKA_SECURITY_PROTOCOL)",
    )
    sec.add_argument(
        "--sasl-mechanism",
        type=str.upper,
        default=env("KAFKA_SASL_MECHANISM"),
        help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: $KAFKA_SASL_MECHANISM or PLAIN)",
    )
    sec.add_argument(
        "--sasl-username",
        default=env("KAFKA_SASL_USERNAME"),
        help="default: $KAFKA_SASL_USERNAME",
    )
    sec.add_argument(
        "--sasl-password-file",
        default=env("KAFKA_SASL_PASSWORD_FILE"),
        help="file whose first line is the SASL password (default: $KAFKA_SASL_PASSWORD_FILE)",
    )
    sec.add_argument(
        "--ssl-ca", default=env("KAFKA_SSL_CA_LOCATION"), help="CA certificate file (PEM)"
    )
    sec.add_argument(
        "--ssl-cert",
        default=env("KAFKA_SSL_CERT_LOCATION"),
        help="client certificate file (PEM)",
    )
    sec.add_argument(
        "--ssl-key",
        default=env("KAFKA_SSL_KEY_LOCATION"),
        help="client key file (PEM); its password comes from $KAFKA_SSL_KEY_PASSWORD",
    )
    return p


def security_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The sink's security keywords (kafka-python's names) from the flags and environment."""
    from .kafka_config import KafkaConfigError, read_secret_file

    password = os.environ.get("KAFKA_SASL_PASSWORD") or None
    if args.sasl_password_file:
        try:
            password = read_secret_file(args.sasl_password_file, "SASL password")
        except KafkaConfigError as exc:
            raise CliError(str(exc)) from None
    return {
        "security_protocol": args.security_protocol,
        "sasl_mechanism": args.sasl_mechanism,
        "sasl_plain_username": args.sasl_username,
        "sasl_plain_password": password,
        "ssl_cafile": args.ssl_ca,
        "ssl_certfile": args.ssl_cert,
        "ssl_keyfile": args.ssl_key,
        "ssl_password": os.environ.get("KAFKA_SSL_KEY_PASSWORD") or None,
    }


def prepare(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None, str]:
    x, y, name = load_source(args)
    if args.no_label:
        y = None
    if x.ndim == 0 or len(x) == 0:
        raise CliError("the data set is empty")
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise CliError(f"{len(x)} samples but {len(y)} labels")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
    if x.dtype.kind not in "biuf":
        raise CliError(f"samples must be numeric, got dtype {x.dtype}")
    if args.data_type:
        x = x.astype(parse_dtype(args.data_type))
    elif x.dtype == np.float64 and (args.sklearn or Path(args.source or "").suffix == ".csv"):
        x = x.astype(np.float32)
    if y is not None and args.label_type:
        y = y.astype(parse_dtype(args.label_type, what="label_type"))
    if args.reshape:
        shape = parse_shape(args.reshape)
        size = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        if shape is None or int(np.prod(shape)) != size:
            raise CliError(f"--reshape {args.reshape!r} does not fit samples of {size} values")
        x = x.reshape((len(x), *shape))
    shuffle = args.shuffle if args.shuffle is not None else bool(args.sklearn)
    if shuffle:
        order = np.random.default_rng(args.seed).permutation(len(x))
        x = x[order]
        y = y[order] if y is not None else None
    if args.limit is not None:
        if args.limit <= 0:
            raise CliError("--limit must be positive")
        x = x[: args.limit]
        y = y[: args.limit] if y is not None else None
    return x, y, name


def make_sink(args: argparse.Namespace, x: np.ndarray, y: np.ndarray | None, description: str):
    common: dict[str, Any] = {
        "bootstrap_servers": args.bootstrap_servers,
        "topic": args.topic,
        "deployment_id": args.deployment_id,
        "description": description,
        "validation_rate": args.validation_rate,
        "test_rate": args.test_rate,
        "control_topic": args.control_topic,
        **security_kwargs(args),
    }
    if args.format == "RAW":
        from .raw_sink import RawSink

        return RawSink(
            data_type=dtype_name(x.dtype),
            label_type=dtype_name(y.dtype) if y is not None else None,
            data_reshape=" ".join(map(str, x.shape[1:])),
            label_reshape=" ".join(map(str, y.shape[1:])) if y is not None else "",
            **common,
        )
    if args.format == "AVRO":
        from .avro_sink import AvroSink

        data_schema, label_schema = avro_schemas(x, y)
        return AvroSink(data_scheme=data_schema, label_scheme=label_schema, **common)
    from .json_sink import JsonSink

    return JsonSink(
        data_reshape=" ".join(map(str, x.shape[1:])) if x.ndim > 2 else None,
        data_type=dtype_name(x.dtype),
        label_type=dtype_name(y.dtype) if y is not None else None,
        **common,
    )


def send_all(sink, args, x: np.ndarray, y: np.ndarray | None) -> dict[str, Any] | None:
    progress = Progress(len(x), args.quiet)
    chunk = 10_000 if args.format == "RAW" else 1_000
    for start in range(0, len(x), chunk):
        xs = x[start : start + chunk]
        ys = y[start : start + chunk] if y is not None else None
        if args.format == "RAW":
            sink.send_batch(xs, ys)
        else:
            flat = xs.reshape(len(xs), -1) if args.format == "AVRO" else xs
            if args.format == "AVRO":
                labels = None if ys is None else ys.reshape(len(ys), -1)
                sink.send_batch(flat, labels)
            else:
                sink.send_batch(flat, ys)
        progress.update(start + len(xs))
    message = sink.close(timeout=args.timeout)
    progress.update(len(x), final=True)
    return message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.bootstrap_servers:
        parser.error("--bootstrap-servers is required (or set KAFKA_BOOTSTRAP_SERVERS)")
    from .sink import DeliveryError

    sink = None
    try:
        x, y, name = prepare(args)
        description = args.description if args.description is not None else name
        sink = make_sink(args, x, y, description)
        if not args.quiet:
            print(
                f"sending {len(x)} samples of shape {x.shape[1:]} ({x.dtype}) as {args.format} "
                f"to {args.topic!r} on {args.bootstrap_servers}",
                file=sys.stderr,
            )
        message = send_all(sink, args, x, y)
    except CliError as exc:
        print(f"kafkaml-send: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"kafkaml-send: error: {exc}", file=sys.stderr)
        return 2
    except DeliveryError as exc:
        print(f"kafkaml-send: delivery failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kafkaml-send: interrupted; no control message was sent", file=sys.stderr)
        return 130
    if message is None:
        print("kafkaml-send: nothing was sent", file=sys.stderr)
        return 1
    print(json.dumps({"control_topic": sink.control_topic, "control_message": message}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
