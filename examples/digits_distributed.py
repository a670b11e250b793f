"""Train an edge → cloud chain (early exit) on digits, then deploy both sub-models for
inference: the edge answers when it is confident, and passes the rest to the cloud.

    KAFKAML_PASSWORD=... python examples/digits_distributed.py
"""

from _platform import call, create_model, deploy, send_digits, session, topic, wait_results

IMPORTS = "import tensorflow as tf"
EDGE = """inputs = tf.keras.Input(shape=(8, 8))
x = tf.keras.layers.Flatten()(inputs)
to_upper = tf.keras.layers.Dense(32, activation="relu", name="to_upper")(x)
output = tf.keras.layers.Dense(10, activation="softmax", name="edge_output")(to_upper)
model = tf.keras.Model(inputs=inputs, outputs=[to_upper, output])
"""
CLOUD = """inputs = tf.keras.Input(shape=(32,))
x = tf.keras.layers.Dense(32, activation="relu")(inputs)
output = tf.keras.layers.Dense(10, activation="softmax", name="cloud_output")(x)
model = tf.keras.Model(inputs=inputs, outputs=output)
"""

if __name__ == "__main__":
    http = session()
    cloud = create_model(http, "digits-cloud", "tensorflow", IMPORTS, CLOUD, distributed=True)
    edge = create_model(
        http, "digits-edge", "tensorflow", IMPORTS, EDGE, distributed=True, upper_model=cloud["id"]
    )
    deployment = deploy(
        http,
        "digits-chain",
        [edge["id"]],
        batch_size=32,
        training_kwargs="epochs=10",
        optimizer="adam",
        learning_rate=0.005,
        loss="sparse_categorical_crossentropy",
        metrics="accuracy",
    )
    send_digits(deployment["id"], topic=topic(http, f"digits-{deployment['id']}"))
    results = {r["model_name"]: r for r in wait_results(http, deployment)}
    base = topic(http, f"digits-chain-{deployment['id']}")
    raw = {"data_type": "float32", "data_reshape": "8 8"}
    cloud_inference = call(
        http,
        "POST",
        "inferences/",
        json={
            "result": results["digits-cloud"]["id"],
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "32"},
            "input_topic": f"{base}-upper",
            "output_topic": f"{base}-out",
        },
    )
    edge_inference = call(
        http,
        "POST",
        "inferences/",
        json={
            "result": results["digits-edge"]["id"],
            "input_format": "RAW",
            "input_config": raw,
            "input_topic": f"{base}-in",
            "output_topic": f"{base}-out",
            "upper_topic": f"{base}-upper",
            "limit": 0.9,
        },
    )
    print(f"inferences {edge_inference['id']} (edge) and {cloud_inference['id']} (cloud) running;")
    print(f"send float32 8x8 records to {base}-in and read predictions from {base}-out")
