from django.http import FileResponse, JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.accounts.permissions import IsUser
from kafkaml.api import OwnedQuerysetMixin
from kafkaml.errors import ApplicationError
from kafkaml.workloads.auth import WorkerApiMixin
from kafkaml.workloads.models import CredentialKind
from kafkaml.workloads.services import workload_logs

from . import services
from .filters import RunFilter
from .models import Datasource, Deployment, ModelArtifact, TrainingResult
from .selectors import (
    RESULT_READERS,
    control_errors_of,
    runs_queryset,
    worker_artifact_result_get,
    worker_deployment_get,
    worker_result_get,
    worker_result_payload,
)
from .serializers import (
    ControlErrorOutput,
    DatasourceOutput,
    DeploymentInput,
    DeploymentOutput,
    ResultAnnotateInput,
    ResultOutput,
    RunOutput,
    WorkerArtifactInput,
    WorkerControlErrorInput,
    WorkerDatasourceInput,
    WorkerEpochInput,
    WorkerStatusInput,
)


class DeploymentViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Deployment.objects.select_related("configuration").prefetch_related("results__model")
    serializer_class = DeploymentOutput
    permission_classes = [IsUser]
    filterset_fields = ["configuration", "incremental"]
    ordering_fields = ["id", "created_at"]

    @extend_schema(request=DeploymentInput, responses={201: DeploymentOutput})
    def create(self, request):
        data = DeploymentInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        if request.data.get("federated") is not None:
            # a federated deployment: its settings (as PUT /deployments/<id>/federated/) too
            from kafkaml.federated.apis import deployment_create_federated

            deployment = deployment_create_federated(request, data.validated_data)
        else:
            deployment = services.deployment_create(owner=request.user, **data.validated_data)
        return Response(DeploymentOutput(deployment).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        services.deployment_delete(deployment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=ControlErrorOutput(many=True))
    @action(detail=True, methods=["get"], url_path="control-errors")
    def control_errors(self, request, pk=None):
        """Control messages naming this deployment that were refused (malformed, or announcing
        topics that are not the owner's): the newest 100, newest first."""
        errors = control_errors_of(deployment=self.get_object())
        return Response(ControlErrorOutput(errors, many=True).data)


class ResultViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = TrainingResult.objects.select_related(
        "model", "model_version", "deployment__datasource"
    ).prefetch_related("artifacts")
    serializer_class = ResultOutput
    permission_classes = [IsUser]
    filterset_fields = ["deployment", "model", "status"]
    ordering_fields = ["id", "created_at", "status"]

    def destroy(self, request, pk=None):
        services.result_delete(result=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ResultAnnotateInput, responses=ResultOutput)
    def partial_update(self, request, pk=None):
        """The owner's tags and note on the run (nothing else of a result is editable)."""
        result = self.get_object()
        data = ResultAnnotateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        result = services.result_annotate(result=result, **data.validated_data)
        return Response(ResultOutput(result).data)

    @extend_schema(request=None, responses={201: DeploymentOutput})
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        """Train again: a new deployment of the same configuration, settings, code versions
        and seed, on the datasource this result trained on."""
        deployment = services.result_rerun(result=self.get_object())
        return Response(DeploymentOutput(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ResultOutput)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        result = services.result_stop(result=self.get_object())
        return Response(ResultOutput(result).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind",
                str,
                enum=[
                    "native",
                    "onnx",
                    "h5",
                    "state_dict",
                    "tflite",
                    "tflite_int8",
                    "metrics",
                    "archive",
                ],
            ),
            OpenApiParameter("version", int),
        ],
        responses={(200, "application/octet-stream"): bytes},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The trained model: native format, ONNX, Keras .h5, PyTorch state_dict, TensorFlow
        Lite (float, int8), the metrics as JSON, or the whole archive."""
        from .artifacts import artifact_file

        result = self.get_object()
        kind = request.query_params.get("kind", "archive")
        artifact = _artifact(result, request.query_params.get("version"))
        if kind == "metrics":
            body = {
                "result": result.pk,
                "model": result.model.name,
                "version": artifact.version if artifact else None,
                "epochs": result.epoch_metrics,
                "train": result.train_metrics,
                "validation": result.val_metrics,
                "test": result.test_metrics,
                "confusion_matrix": result.confusion_matrix,
                "training_time": result.training_time,
            }
            response = JsonResponse(body)
            response["Content-Disposition"] = f'attachment; filename="result-{result.pk}.json"'
            return response
        if artifact is None:
            raise ApplicationError("The result has no trained model yet.", status_code=404)
        handle, filename = artifact_file(artifact, kind)
        return FileResponse(handle, as_attachment=True, filename=f"result-{result.pk}-{filename}")

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        result = self.get_object()
        leader = result.chain_leader or result
        return Response({"logs": workload_logs(leader.workload_name, tail=200)})


class RunViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The runs table: every result as a row of parameters and final metrics, to sort, filter
    by tag/status/framework/model, and search (model name, note, tags)."""

    queryset = runs_queryset()
    serializer_class = RunOutput
    permission_classes = [IsUser]
    filterset_class = RunFilter
    search_fields = ["model__name", "note", "tags"]
    ordering_fields = [
        "id",
        "created_at",
        "status",
        "model_name",
        "framework",
        "batch_size",
        "epochs",
        "training_time",
        "test_accuracy",
        "test_loss",
        "val_accuracy",
        "val_loss",
    ]
    ordering = ["-id"]


def _artifact(result, version) -> ModelArtifact | None:
    artifacts = result.artifacts.all()
    if version not in (None, ""):
        try:
            return artifacts.filter(version=int(version)).first()
        except ValueError as exc:
            raise ApplicationError("version must be a number", errors={"version": ["NaN"]}) from exc
    return artifacts.order_by("-version").first()


class DatasourceViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Datasource.objects.all()
    serializer_class = DatasourceOutput
    permission_classes = [IsUser]
    filterset_fields = ["deployment", "input_format", "incremental"]
    search_fields = ["description", "topic"]


# --- worker endpoints (a workload credential; kafkaml.workloads.auth) ----------------------

TRAINING = (CredentialKind.TRAINING,)
CONTROL_LOGGER = (CredentialKind.CONTROL_LOGGER,)


class WorkerResultApi(WorkerApiMixin, APIView):
    workload_kinds = RESULT_READERS

    @extend_schema(responses=dict)
    def get(self, request, pk):
        result = worker_result_get(credential=request.auth, pk=pk, kinds=RESULT_READERS)
        return Response(worker_result_payload(result))


class WorkerResultStatusApi(WorkerApiMixin, APIView):
    workload_kinds = TRAINING

    @extend_schema(request=WorkerStatusInput, responses=dict)
    def post(self, request, pk):
        result = worker_result_get(credential=request.auth, pk=pk)
        data = WorkerStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.result_set_status(result=result, **data.validated_data)
        return Response({"id": result.pk, "status": result.status})


class WorkerEpochApi(WorkerApiMixin, APIView):
    workload_kinds = TRAINING

    @extend_schema(request=WorkerEpochInput, responses={204: None})
    def post(self, request, pk):
        result = worker_result_get(credential=request.auth, pk=pk)
        data = WorkerEpochInput(data=request.data)
        data.is_valid(raise_exception=True)
        metrics = {k: v for k, v in data.validated_data["metrics"].items() if v is not None}
        services.epoch_record(result=result, epoch=data.validated_data["epoch"], metrics=metrics)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkerArtifactApi(WorkerApiMixin, APIView):
    """Training workloads upload their results' models; inference workloads download the
    model they serve."""

    workload_kinds = (CredentialKind.TRAINING, CredentialKind.INFERENCE)
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=WorkerArtifactInput, responses=dict)
    def post(self, request, pk):
        result = worker_result_get(credential=request.auth, pk=pk)
        data = WorkerArtifactInput(data=request.data)
        data.is_valid(raise_exception=True)
        summary = data.validated_data["summary"]
        if not isinstance(summary, dict):
            raise ApplicationError("summary must be a JSON object", errors={"summary": ["Object."]})
        artifact = services.artifact_store(
            result=result, archive=data.validated_data["archive"], summary=summary
        )
        return Response({"version": artifact.version}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/gzip"): bytes})
    def get(self, request, pk):
        result = worker_artifact_result_get(credential=request.auth, pk=pk)
        artifact = _artifact(result, request.query_params.get("version"))
        if artifact is None:
            raise ApplicationError("No trained model for this result.", status_code=404)
        return FileResponse(artifact.archive.open("rb"), filename="model.tar.gz")


class WorkerDeploymentDatasourcesApi(WorkerApiMixin, APIView):
    workload_kinds = RESULT_READERS

    @extend_schema(responses=DatasourceOutput(many=True))
    def get(self, request, pk):
        deployment = worker_deployment_get(credential=request.auth, pk=pk)
        return Response(DatasourceOutput(deployment.datasources.order_by("-id"), many=True).data)


class WorkerDatasourceApi(WorkerApiMixin, APIView):
    workload_kinds = CONTROL_LOGGER

    @extend_schema(request=WorkerDatasourceInput, responses=DatasourceOutput)
    def post(self, request):
        data = WorkerDatasourceInput(data=request.data)
        data.is_valid(raise_exception=True)
        datasource, created = services.datasource_register(data=data.validated_data)
        return Response(
            DatasourceOutput(datasource).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class WorkerControlErrorApi(WorkerApiMixin, APIView):
    workload_kinds = CONTROL_LOGGER

    @extend_schema(request=WorkerControlErrorInput, responses={201: None})
    def post(self, request):
        data = WorkerControlErrorInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.control_error_record(data=data.validated_data)
        return Response(status=status.HTTP_201_CREATED)
