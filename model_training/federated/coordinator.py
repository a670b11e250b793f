"""The coordinator of a federated deployment: NumPy on weight arrays, never user code.

``python -m model_training.federated.coordinator --bootstrap HOST:PORT --deployment ID
--rounds N --strategy fedavg [--min-data N] [--restrictions JSON] ...`` or :class:`Coordinator`.

1. Collects the sites' announcements (``join_timeout_s``, or until ``expected_sites`` sites
   qualified) and keeps those that qualify: at least ``min_data`` samples, and the ``restrictions``
   (``data_shape``: exact sample shape; ``labels``: the labels a site may hold — its announced
   labels must be among them; ``min_labels``: at least this many distinct labels;
   ``framework``). Every announcement is recorded, also one that comes after the join
   (``announced``; why a site was not used: ``refused``, or ``late``).
2. Asks the first qualifying site for the model's initial weights (``init``), so every site
   starts from the same model.
3. For each round: publishes the global weights naming the round's sites, waits up to
   ``round_timeout_s`` for their updates, aggregates those that came with the strategy, and
   records the sites that did not answer (they are dropped from the later rounds; the run goes
   on with the rest, and fails only when no site is left). The run ends after ``rounds`` or
   once ``stop_after_samples`` training samples were seen over all rounds; ``end`` carries the
   final weights.

Each round's report (``on_round``) holds the round, its sites, the dropped ones, the samples
(in all and per site: ``site_samples``; a site that trained on nothing, an online site without
new records, answers with 0 and is left out of the aggregate: a round where every site had 0
keeps the global model), and the sample-weighted mean of the sites' metrics (``global_*``: the
global model received at the round's start, on the sites' local test shares; the others: the
local training's last epoch).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_training.federated import messages
from model_training.federated.strategies import Strategy, get_strategy

log = logging.getLogger("model_training.federated.coordinator")


class FederationError(RuntimeError):
    pass


def qualifies(announce: dict, min_data: int, restrictions: dict) -> str | None:
    """Why a site does not qualify, or None."""
    if int(announce.get("samples") or 0) < min_data:
        return f"{announce.get('samples')} samples < min_data {min_data}"
    shape = restrictions.get("data_shape")
    if shape is not None and list(announce.get("data_shape") or []) != list(shape):
        return f"data shape {announce.get('data_shape')} != {list(shape)}"
    labels = restrictions.get("labels")
    if labels is not None and not set(announce.get("labels") or []) <= set(labels):
        return f"labels {announce.get('labels')} outside {sorted(labels)}"
    min_labels = restrictions.get("min_labels")
    if min_labels is not None and len(announce.get("labels") or []) < int(min_labels):
        return f"{len(announce.get('labels') or [])} labels < min_labels {min_labels}"
    framework = restrictions.get("framework")
    if framework is not None and announce.get("framework") != framework:
        return f"framework {announce.get('framework')} != {framework}"
    return None


@dataclass
class RoundReport:
    round: int
    rounds: int
    sites: list[str]
    answered: list[str]
    dropped: list[str]
    samples: int
    metrics: dict[str, float]
    seconds: float
    #: what each answering site trained on this round (0: an online site without new records)
    site_samples: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Coordinator:
    bootstrap: str
    deployment: str | int
    rounds: int = 3
    strategy: Strategy | str = "fedavg"
    min_data: int = 0
    restrictions: dict = field(default_factory=dict)
    prefix: str = ""
    expected_sites: int | None = None
    join_timeout_s: float = 60.0
    round_timeout_s: float = 120.0
    stop_after_samples: int | None = None
    on_round: Callable[[RoundReport], None] = field(default=lambda report: None)
    #: a ``model_training.reporting.Reporter`` of the deployment's result: each round is
    #: reported like an epoch (``round_metrics``), so the UI shows it live
    reporter: Any = None
    # outcome
    weights: list[np.ndarray] | None = None
    history: list[RoundReport] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    announced: dict[str, dict] = field(default_factory=dict)  # site -> its announcement
    late: list[str] = field(default_factory=list)  # qualified, but announced after the join
    dropped: dict[str, int] = field(default_factory=dict)  # site -> round it missed

    def __post_init__(self) -> None:
        if isinstance(self.strategy, str):
            self.strategy = get_strategy(self.strategy)
        self.global_topic, self.updates_topic = messages.topics(self.deployment, self.prefix)
        self._pending: list[tuple[dict, list[np.ndarray]]] = []
        self._joined = False
        self.sites: list[str] = []  # the sites that qualified in the join

    # -- transport ------------------------------------------------------------------------
    def _open(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Producer, TopicPartition

        from model_training.dataset import consumer_for
        from worker_common.kafka import ensure_topics, producer_config

        ensure_topics([self.global_topic, self.updates_topic], bootstrap=self.bootstrap)
        self.producer = Producer(
            producer_config(self.bootstrap, **{"message.max.bytes": messages.MAX_MESSAGE_BYTES})
        )
        # assign() only: the default reader group (no offsets are committed)
        self.consumer = consumer_for(
            self.bootstrap, **{"fetch.message.max.bytes": messages.MAX_MESSAGE_BYTES}
        )
        self.consumer.assign([TopicPartition(self.updates_topic, 0, OFFSET_BEGINNING)])

    def _publish(self, meta: dict, weights: list[np.ndarray] | None = None) -> None:
        # partition 0 always (the sites read it): the order of init/round/end holds even
        # where the topic was made with more partitions (an auto-created one)
        self.producer.produce(self.global_topic, value=messages.encode(meta, weights), partition=0)
        self.producer.flush(30)

    def _receive(self, until: float, done: Callable[[dict, list], bool]) -> None:
        """Hand each message to ``done`` until it says so or ``until`` passes."""
        while time.monotonic() < until:
            for msg in self.consumer.consume(50, 0.2):
                if msg.error():
                    continue
                try:
                    meta, weights = messages.decode(msg.value())
                except (ValueError, OSError) as exc:
                    log.warning("ignoring a bad message on %s: %s", self.updates_topic, exc)
                    continue
                if meta.get("kind") == "announce":
                    self._note(meta)
                if done(meta, weights):
                    return

    # -- the run ----------------------------------------------------------------------------
    def _note(self, meta: dict) -> None:
        """Record an announcement (the first of each site), at any time of the run."""
        name = str(meta.get("site"))
        if name in self.announced:
            return
        self.announced[name] = meta
        why = qualifies(meta, self.min_data, self.restrictions)
        if why:
            self.refused[name] = why
            log.info("site %s does not qualify: %s", name, why)
        elif self._joined:
            self.late.append(name)
            log.info("site %s qualifies but announced after the join: not used", name)
        else:
            self.sites.append(name)
            log.info("site %s joins (%s samples)", name, meta.get("samples"))

    def join(self) -> list[str]:
        def enough(_meta, _weights):
            return self.expected_sites is not None and len(self.sites) >= self.expected_sites

        self._receive(time.monotonic() + self.join_timeout_s, enough)
        self._joined = True
        if not self.sites:
            raise FederationError(
                f"no site qualified within the join timeout of {self.join_timeout_s:g}s "
                f"(refused: {self.refused or 'none'}; announced: {len(self.announced)})"
            )
        return list(self.sites)

    def initial_weights(self, sites: list[str]) -> list[np.ndarray]:
        for name in sites:
            self._publish({"kind": "init", "site": name})
            got: list = []

            def on(meta, weights, name=name, got=got):
                if meta.get("kind") == "init" and meta.get("site") == name:
                    got.append(weights)
                    return True
                return False

            self._receive(time.monotonic() + self.round_timeout_s, on)
            if got:
                return got[0]
            log.warning("site %s sent no initial weights", name)
        raise FederationError("no site sent the model's initial weights")

    def run(self) -> list[np.ndarray]:
        self._open()
        try:
            sites = self.join()
            weights = self.initial_weights(sites)
            seen = 0
            assert isinstance(self.strategy, Strategy)
            for k in range(1, self.rounds + 1):
                started = time.monotonic()
                self._publish(
                    {
                        "kind": "round",
                        "round": k,
                        "rounds": self.rounds,
                        "sites": sites,
                        "proximal_mu": self.strategy.proximal_mu,
                    },
                    weights,
                )
                updates: dict[str, tuple[dict, list[np.ndarray]]] = {}

                def on(meta, w, k=k, sites=sites, updates=updates):
                    if meta.get("kind") == "update" and meta.get("round") == k:
                        if meta.get("site") in sites:
                            updates[str(meta["site"])] = (meta, w)
                    return len(updates) == len(sites)

                self._receive(started + self.round_timeout_s, on)
                missing = [s for s in sites if s not in updates]
                for name in missing:
                    self.dropped[name] = k
                    log.warning("round %d: site %s did not answer; going on without it", k, name)
                if not updates:
                    raise FederationError(f"round {k}: no site answered")
                answered = [s for s in sites if s in updates]
                site_samples = {s: int(updates[s][0].get("samples") or 0) for s in answered}
                # a site that trained on nothing this round (an online site without new
                # records) answered, but has nothing to add to the aggregate
                pairs = [(updates[s][1], site_samples[s]) for s in answered if site_samples[s]]
                if pairs:
                    weights = self.strategy.aggregate(weights, pairs)
                else:
                    log.info("round %d: no site had new samples; the global model stays", k)
                samples = sum(site_samples.values())
                seen += samples
                report = RoundReport(
                    round=k,
                    rounds=self.rounds,
                    sites=list(sites),
                    answered=answered,
                    dropped=missing,
                    samples=samples,
                    metrics=_weighted_metrics([updates[s][0] for s in answered]),
                    seconds=time.monotonic() - started,
                    site_samples=site_samples,
                )
                self.history.append(report)
                self.weights = weights
                self.on_round(report)
                if self.reporter is not None:
                    self.reporter.epoch(k, round_metrics(report))
                sites = answered
                if self.stop_after_samples is not None and seen >= self.stop_after_samples:
                    log.info("%d samples seen: the run ends after round %d", seen, k)
                    break
            self._publish({"kind": "end", "round": self.history[-1].round}, weights)
            return weights
        except BaseException:
            try:
                self._publish({"kind": "end", "error": True})
            except Exception:  # noqa: BLE001
                pass
            raise
        finally:
            self.consumer.close()
            self.producer.flush(5)


def round_metrics(report: RoundReport) -> dict[str, float]:
    """A round as an epoch report: the sites' weighted metrics plus ``round``, ``rounds``,
    ``sites`` (answered), ``dropped`` and ``samples`` (the UI shows "Round k / N")."""
    return {
        **report.metrics,
        "round": float(report.round),
        "rounds": float(report.rounds),
        "sites": float(len(report.answered)),
        "dropped": float(len(report.dropped)),
        "samples": float(report.samples),
    }


def _weighted_metrics(metas: list[dict]) -> dict[str, float]:
    total = sum(int(m["samples"]) for m in metas) or 1
    out: dict[str, float] = {}
    for name in sorted({k for m in metas for k in (m.get("metrics") or {})}):
        have = [m for m in metas if name in (m.get("metrics") or {})]
        weight = sum(int(m["samples"]) for m in have) or total
        out[name] = sum(float(m["metrics"][name]) * int(m["samples"]) for m in have) / weight
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m model_training.federated.coordinator",
        description="The platform runs it with --result-id alone (everything else comes from "
        "the backend: model_training.federated.platform); by hand, give --bootstrap and "
        "--deployment.",
    )
    parser.add_argument("--bootstrap")
    parser.add_argument("--deployment")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strategy", default="fedavg")
    parser.add_argument("--strategy-params", default="{}", help='JSON, e.g. {"eta": 0.1}')
    parser.add_argument("--min-data", type=int, default=0)
    parser.add_argument("--restrictions", default="{}", help="JSON")
    parser.add_argument("--expected-sites", type=int)
    parser.add_argument("--join-timeout", type=float, default=60)
    parser.add_argument("--round-timeout", type=float, default=120)
    parser.add_argument("--out", help="write the final weights here (.npz)")
    parser.add_argument(
        "--result-id",
        type=int,
        help="alone: the platform's coordinator workload of this result; with --deployment: "
        "report each round to this result like an epoch (KAFKAML_BACKEND_URL and "
        "KAFKAML_API_TOKEN: the result's workload credential)",
    )
    args = parser.parse_args(argv)
    if args.deployment is None:
        if args.result_id is None:
            parser.error("give --result-id (platform) or --bootstrap and --deployment")
        from model_training.federated.platform import coordinator_main

        return coordinator_main(args.result_id)
    if not args.bootstrap:
        parser.error("--bootstrap is required with --deployment")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    coordinator = Coordinator(
        bootstrap=args.bootstrap,
        deployment=args.deployment,
        prefix=args.prefix,
        rounds=args.rounds,
        strategy=get_strategy(args.strategy, **json.loads(args.strategy_params)),
        min_data=args.min_data,
        restrictions=json.loads(args.restrictions),
        expected_sites=args.expected_sites,
        join_timeout_s=args.join_timeout,
        round_timeout_s=args.round_timeout,
        on_round=lambda r: print(json.dumps(r.as_dict()), flush=True),
    )
    if args.result_id is not None:
        from model_training.reporting import BackendReporter
        from worker_common.backend import BackendClient

        coordinator.reporter = BackendReporter(BackendClient(), args.result_id)
    weights = coordinator.run()
    if args.out:
        messages.save_weights(args.out, weights)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
