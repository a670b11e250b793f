"""Deploy a finished result for inference, send the digits test images to its input topic,
and read the predictions back.

    KAFKAML_PASSWORD=... python examples/digits_inference.py RESULT_ID
"""

import sys
import time

import numpy as np
from _platform import deploy_inference, read_outputs, send_images, session
from sklearn.datasets import load_digits

if __name__ == "__main__":
    http = session()
    result_id = int(sys.argv[1])
    inference = deploy_inference(http, result_id, f"digits-{int(time.time())}", replicas=1)
    print(f"inference {inference['id']} running; sending 200 digits")
    digits = load_digits()
    send_images(inference["input_topic"], (digits.data[:200] / 16.0).astype(np.float32))
    outputs = read_outputs(http, inference["output_topic"], 200)
    correct = sum(
        int(np.argmax(output["values"])) == digits.target[key] for key, output in outputs.items()
    )
    print(f"{len(outputs)} predictions, accuracy {correct / max(len(outputs), 1):.2%}")
