from django.conf import settings
from django.http import FileResponse, Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from kafkaml.accounts import apis as accounts
from kafkaml.accounts import token_apis as account_tokens
from kafkaml.accounts import user_apis as account_users
from kafkaml.catalog.apis import ConfigurationViewSet, ModelViewSet
from kafkaml.federated.apis import DeploymentFederatedApi
from kafkaml.health import HealthApi
from kafkaml.inference import apis as inference
from kafkaml.prometheus import metrics_view
from kafkaml.topics import apis as kafka_access
from kafkaml.training import apis as training
from kafkaml.workloads.apis import WorkerHeartbeatApi

router = DefaultRouter()
router.register("models", ModelViewSet, basename="model")
router.register("configurations", ConfigurationViewSet, basename="configuration")
router.register("deployments", training.DeploymentViewSet, basename="deployment")
router.register("results", training.ResultViewSet, basename="result")
router.register("runs", training.RunViewSet, basename="run")
router.register("datasources", training.DatasourceViewSet, basename="datasource")
router.register("inferences", inference.InferenceViewSet, basename="inference")

worker = [
    path("results/<int:pk>/", training.WorkerResultApi.as_view()),
    path("results/<int:pk>/status/", training.WorkerResultStatusApi.as_view()),
    path("results/<int:pk>/epochs/", training.WorkerEpochApi.as_view()),
    path("results/<int:pk>/artifacts/", training.WorkerArtifactApi.as_view()),
    path("deployments/<int:pk>/datasources/", training.WorkerDeploymentDatasourcesApi.as_view()),
    path("datasources/", training.WorkerDatasourceApi.as_view()),
    path("control-errors/", training.WorkerControlErrorApi.as_view()),
    path("inferences/<int:pk>/", inference.WorkerInferenceApi.as_view()),
    path("inferences/<int:pk>/metrics/", inference.WorkerInferenceMetricsApi.as_view()),
    path("heartbeats/", WorkerHeartbeatApi.as_view()),
]

api_v1 = [
    path("health", HealthApi.as_view(), name="health"),
    path("auth/login/", accounts.LoginApi.as_view(), name="login"),
    path("auth/logout/", accounts.LogoutApi.as_view(), name="logout"),
    path("auth/me/", accounts.MeApi.as_view(), name="me"),
    path("auth/csrf/", accounts.CsrfApi.as_view(), name="csrf"),
    path("auth/token/", accounts.TokenApi.as_view(), name="token"),
    path("auth/tokens/", account_tokens.TokensApi.as_view(), name="tokens"),
    path("auth/tokens/<str:public_id>/", account_tokens.TokenApi.as_view(), name="token-detail"),
    path("auth/password/", accounts.PasswordApi.as_view(), name="password"),
    path("auth/kafka/", kafka_access.KafkaAccessApi.as_view(), name="kafka-access"),
    path(
        "auth/kafka/credentials/",
        kafka_access.KafkaCredentialsApi.as_view(),
        name="kafka-credentials",
    ),
    path("users/", account_users.UsersApi.as_view(), name="users"),
    path("users/<int:pk>/", account_users.UserApi.as_view(), name="user-detail"),
    path("users/<int:pk>/password/", account_users.UserPasswordApi.as_view(), name="user-password"),
    path("worker/", include(worker)),
    path(
        "deployments/<int:pk>/federated/",
        DeploymentFederatedApi.as_view(),
        name="deployment-federated",
    ),
    path("", include(router.urls)),
]


def spa_index(request, *args):
    """The single-page app's index for any client-side route (built by `make frontend`)."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        raise Http404("The UI is not built: run `make frontend` (or `make up`).")
    return FileResponse(index.open("rb"), content_type="text/html")


def api_not_found(request, *args, **kwargs):
    """Every unknown /api/ path answers JSON, as every other API error does; when the path
    exists with (or without) a trailing slash, the answer names it."""
    path_ = request.path
    other = path_[:-1] if path_.endswith("/") else path_ + "/"
    body = {"detail": f"Not found: {path_}", "errors": {}}
    try:
        match = resolve(other)
    except Resolver404:
        match = None
    if match is not None and match.func is not api_not_found:
        if other.endswith("/") and request.method in ("GET", "HEAD"):
            # What APPEND_SLASH did before this catch-all existed.
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(other + (f"?{query}" if query else ""))
        body["detail"] += f" (did you mean {other}?)"
        body["did_you_mean"] = other
    return JsonResponse(body, status=404)


def not_found(request, exception=None):
    """Django's 404 (DEBUG off): JSON under /api/, the plain page elsewhere."""
    if request.path.startswith("/api/"):
        return api_not_found(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


handler404 = not_found

urlpatterns = [
    path("api/v1/", include(api_v1)),
    # Prometheus (outside the API's auth: a bearer token or loopback, see kafkaml.prometheus)
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script, so the CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/", api_not_found),
    re_path(r"^(?!api/|ws/|static/|metrics$).*$", spa_index),
]
