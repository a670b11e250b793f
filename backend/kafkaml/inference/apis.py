from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from kafkaml.accounts.permissions import IsUser
from kafkaml.api import OwnedQuerysetMixin
from kafkaml.workloads.auth import WorkerApiMixin
from kafkaml.workloads.models import CredentialKind
from kafkaml.workloads.services import workload_logs

from . import candidates, chains, predict, services
from .history import METRICS_HISTORY_POINTS, inference_history
from .models import Inference
from .selectors import worker_inference_get, worker_inference_payload
from .serializers import (
    CandidateInput,
    ChainInput,
    InferenceInput,
    InferenceOutput,
    MetricsPointOutput,
    PredictInput,
    PredictOutput,
    ScaleInput,
    SwapInput,
    WorkerMetricsInput,
)


class InferenceViewSet(
    OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Inference.objects.select_related("serving_result__model")
    serializer_class = InferenceOutput
    permission_classes = [IsUser]
    filterset_fields = ["status", "result"]
    search_fields = ["input_topic", "output_topic"]
    ordering_fields = ["id", "created_at"]

    @extend_schema(request=InferenceInput, responses={201: InferenceOutput})
    def create(self, request):
        data = InferenceInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        inference = services.inference_create(owner=request.user, **data.validated_data)
        return Response(InferenceOutput(inference).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        parameters=[OpenApiParameter("result", int, description="any result of the chain")],
        responses={200: dict},
    )
    @extend_schema(
        methods=["POST"], request=ChainInput, responses={201: InferenceOutput(many=True)}
    )
    @action(detail=False, methods=["get", "post"], url_path="chain", filter_backends=[])
    def chain(self, request):
        """GET: a chain's sub-models in order and what each reads (the upper ones read the
        lower one's output). POST: deploy the whole chain, topics wired, as one action."""
        if request.method == "GET":
            data = SwapInput(
                data={"result": request.query_params.get("result")}, context={"request": request}
            )
            data.is_valid(raise_exception=True)
            return Response(
                chains.chain_plan(owner=request.user, result=data.validated_data["result"])
            )
        data = ChainInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        inferences = chains.inference_chain_create(owner=request.user, **data.validated_data)
        return Response(
            {"inferences": InferenceOutput(inferences, many=True).data},
            status=status.HTTP_201_CREATED,
        )

    def destroy(self, request, pk=None):
        services.inference_delete(inference=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return Response(InferenceOutput(services.inference_stop(inference=self.get_object())).data)

    @extend_schema(request=ScaleInput, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def scale(self, request, pk=None):
        data = ScaleInput(data=request.data)
        data.is_valid(raise_exception=True)
        inference = services.inference_scale(
            inference=self.get_object(), replicas=data.validated_data["replicas"]
        )
        return Response(InferenceOutput(inference).data)

    @extend_schema(request=SwapInput, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def swap(self, request, pk=None):
        data = SwapInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        inference = services.inference_swap(inference=self.get_object(), **data.validated_data)
        return Response(InferenceOutput(inference).data)

    @extend_schema(request=CandidateInput, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def candidate(self, request, pk=None):
        """Shadow or canary: serve a second model version on the same input (one at a time;
        setting another replaces it). Its live comparison is the inference's 'candidate'."""
        data = CandidateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        inference = candidates.candidate_set(inference=self.get_object(), **data.validated_data)
        return Response(InferenceOutput(inference).data)

    @extend_schema(request=None, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """The candidate becomes the primary (hot swap between batches); comparison ends."""
        inference = candidates.candidate_promote(inference=self.get_object())
        return Response(InferenceOutput(inference).data)

    @extend_schema(request=None, responses=InferenceOutput)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Drop the candidate: the primary serves every record alone."""
        inference = candidates.candidate_rollback(inference=self.get_object())
        return Response(InferenceOutput(inference).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        return Response({"logs": workload_logs(self.get_object().workload_name, tail=200)})

    @extend_schema(request=PredictInput, responses=PredictOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def predict(self, request, pk=None):
        """Predict one batch synchronously with the served model (Open Inference Protocol
        JSON), computed by the streaming worker's code: equal to its output records."""
        data = PredictInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = predict.inference_predict(
            inference=self.get_object(),
            inputs=data.validated_data["inputs"],
            request_id=data.validated_data.get("id"),
        )
        return Response(answer)

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"1..{METRICS_HISTORY_POINTS}")],
        responses=MetricsPointOutput(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="metrics-history",
        pagination_class=None,
        filter_backends=[],
    )
    def metrics_history(self, request, pk=None):
        """Serving history, oldest first: records/s, latency p50/p99 and lag over the
        replicas, one point per report (the newest 720 are kept)."""
        try:
            limit = int(request.query_params.get("limit", METRICS_HISTORY_POINTS))
        except ValueError:
            limit = METRICS_HISTORY_POINTS
        points = inference_history(self.get_object(), limit=limit)
        return Response(MetricsPointOutput(points, many=True).data)


class WorkerInferenceApi(WorkerApiMixin, APIView):
    workload_kinds = (CredentialKind.INFERENCE,)

    @extend_schema(responses=dict)
    def get(self, request, pk):
        inference = worker_inference_get(credential=request.auth, pk=pk)
        return Response(worker_inference_payload(inference))


class WorkerInferenceMetricsApi(WorkerApiMixin, APIView):
    workload_kinds = (CredentialKind.INFERENCE,)

    @extend_schema(request=WorkerMetricsInput, responses={204: None})
    def post(self, request, pk):
        inference = worker_inference_get(credential=request.auth, pk=pk)
        data = WorkerMetricsInput(data=request.data)
        data.is_valid(raise_exception=True)
        metrics = dict(data.validated_data)
        replica = metrics.pop("replica")
        since = metrics.get("cluster_unreachable_since")
        metrics["cluster_unreachable_since"] = since.isoformat() if since else None
        services.inference_metrics_record(inference=inference, replica=replica, metrics=metrics)
        return Response(status=status.HTTP_204_NO_CONTENT)
