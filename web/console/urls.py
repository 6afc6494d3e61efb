from django.urls import path, re_path

from web.console import (
    data,
    data_import,
    overview,
    pages,
    review,
    sign_in,
    tokens,
    training,
    try_it,
    version_actions,
    versions,
)

app_name = "console"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("sign-in/", sign_in.sign_in, name="sign-in"),
    path("sign-out/", sign_in.sign_out, name="sign-out"),
    path("try/", try_it.try_it, name="try-it"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", tokens.revoke, name="token-revoke"),
    path("data/", data.data, name="data"),
    path("data/import/", data_import.data_import, name="data-import"),
    path("data/export/", data.export, name="data-export"),
    path("data/<int:data_id>/", data.edit, name="data-edit"),
    path("data/<int:data_id>/delete/", data.delete, name="data-delete"),
    path("review/", review.review, name="review"),
    path("review/lease/", review.lease, name="review-lease"),
    path("review/<int:item_id>/", review.decide, name="review-decide"),
    path("training/", training.training, name="training"),
    path("training/jobs/<uuid:job_id>/", training.job, name="training-job"),
    path("versions/", versions.versions, name="versions"),
    path("versions/traffic/clear/", version_actions.traffic_clear_all, name="traffic-clear"),
    path("versions/<uuid:model_id>/", versions.versions, name="version"),
    path("versions/<uuid:model_id>/evaluation/", versions.evaluation, name="version-evaluation"),
    path("versions/<uuid:model_id>/activate/", version_actions.activate, name="version-activate"),
    path("versions/<uuid:model_id>/evaluate/", version_actions.evaluate, name="version-evaluate"),
    path("versions/<uuid:model_id>/schedule/", version_actions.schedule, name="version-schedule"),
    path(
        "versions/<uuid:model_id>/unschedule/",
        version_actions.unschedule,
        name="version-unschedule",
    ),
    path("versions/<uuid:model_id>/traffic/", version_actions.traffic, name="version-traffic"),
    path("versions/<uuid:model_id>/delete/", version_actions.delete, name="version-delete"),
    # Last: any other path under /console/ is the console's own 404 page.
    re_path(r"^.*$", pages.not_found, name="not-found"),
]
