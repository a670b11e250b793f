"""Train a Keras classifier on scikit-learn's digits through the platform.

make up                      # in another terminal; note the admin password
KAFKAML_PASSWORD=... python examples/digits_keras.py
"""

from _platform import create_model, deploy, send_digits, session, topic, wait_results

CODE = """model = tf.keras.Sequential([
    tf.keras.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""


def train(name: str = "digits-keras"):
    """Model, deployment, all the digits, the finished result: (session, results)."""
    http = session()
    model = create_model(http, name, "tensorflow", "import tensorflow as tf", CODE)
    deployment = deploy(http, name, [model["id"]], batch_size=32, training_kwargs="epochs=10")
    send_digits(deployment["id"], topic=topic(http, f"digits-{deployment['id']}"))
    return http, wait_results(http, deployment)


if __name__ == "__main__":
    train()
