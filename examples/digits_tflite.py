"""TinyML export: train the Keras digits classifier through the platform, then fetch its
TensorFlow Lite models (float, and int8 calibrated on the training stream) and run them here.

make up                      # in another terminal; note the admin password
KAFKAML_PASSWORD=... python examples/digits_tflite.py

Prints each TFLite model's size and the test accuracy the trainer measured with the TFLite
interpreter, beside the Keras model's, then runs both files with the interpreter on the digits
and prints how often the int8 model agrees with the float one.
"""

import numpy as np
from _platform import URL, call, digits
from digits_keras import train


def interpreter_predictions(model: bytes, images: np.ndarray) -> np.ndarray:
    """Class predictions of a .tflite model, one image at a time (int8: quantized input)."""
    import tensorflow as tf

    lite = tf.lite.Interpreter(model_content=model)
    lite.allocate_tensors()
    source, target = lite.get_input_details()[0], lite.get_output_details()[0]
    scale, zero = source["quantization"]
    predictions = []
    for image in images:
        x = image[None]
        if source["dtype"] == np.int8:
            x = np.clip(np.round(x / scale + zero), -128, 127)
        lite.set_tensor(source["index"], x.astype(source["dtype"]))
        lite.invoke()
        predictions.append(int(np.argmax(lite.get_tensor(target["index"])[0])))
    return np.array(predictions)


if __name__ == "__main__":
    http, (result,) = train("digits-tflite")
    if result["status"] != "finished":
        raise SystemExit(f"training did not finish: {result['error']}")
    latest = call(http, "GET", f"results/{result['id']}/")["artifacts"][0]["metadata"]
    print(f"Keras model: test accuracy {result['test_metrics'].get('accuracy')}")
    images, labels = digits()
    answers = {}
    for kind, entry in latest.get("tflite", {}).items():
        if not entry.get("file"):
            print(f"{kind}: not converted ({entry.get('error') or entry.get('skipped')})")
            continue
        url = f"{URL}/api/v1/results/{result['id']}/download/?kind={kind}"
        response = http.get(url, timeout=120)
        response.raise_for_status()
        answers[kind] = interpreter_predictions(response.content, images)
        print(
            f"{kind}: {len(response.content)} bytes, test accuracy "
            f"{entry.get('test_accuracy')} (trainer), {np.mean(answers[kind] == labels):.3f} "
            "on all digits here"
        )
    if len(answers) == 2:
        agree = np.mean(answers["tflite"] == answers["tflite_int8"])
        print(f"int8 agrees with float on {agree:.1%} of the digits")
