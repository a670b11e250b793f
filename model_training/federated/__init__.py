"""Federated training: a coordinator and sites exchanging weights over Kafka (docs/training.md).

- ``strategies``: FedAvg, FedProx, FedAdagrad, FedAdam, FedYogi (NumPy on weight arrays);
- ``messages``: the weights as ``.npz`` bytes with a JSON header, the topic names;
- ``coordinator``: sends the global model, collects the sites' updates, aggregates (no user
  code: it never builds a model);
- ``site``: next to its own data stream, trains each round in the sandboxed trainer
  (``sandboxed_site``, the only process that runs the model code) and sends back its weights;
- ``platform``: the same through the platform: the coordinator as a result's workload (rounds
  reported as epochs, the global model exported and uploaded), a site worker per registered
  site stream.
"""
