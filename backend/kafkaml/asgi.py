"""ASGI entry point: HTTP (Django, behind the body-size cap) and websockets (Channels, only
from this site's pages)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaml.settings.base")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from kafkaml import consumers  # noqa: E402
from kafkaml.http_limits import BodySizeLimit  # noqa: E402
from kafkaml.ws_auth import allowed_origins_only, auth_stack  # noqa: E402

websocket_urls = [
    path("ws/results/<int:pk>/", consumers.ResultConsumer.as_asgi()),
    path("ws/inferences/<int:pk>/", consumers.InferenceConsumer.as_asgi()),
    path("ws/predictions/", consumers.PredictionsConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi),
        "websocket": allowed_origins_only(auth_stack(URLRouter(websocket_urls))),
    }
)
