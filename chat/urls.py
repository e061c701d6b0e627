"""URL routes of the chat app."""

from __future__ import annotations

from django.urls import path

from chat.evaluation import views as eval_views
from chat.views import chat as views
from chat.views import composer as composer_views
from chat.views import copy as copy_views
from chat.views import history as history_views
from chat.views import panels as panel_views
from chat.views import rejudge as rejudge_views
from chat.views import settings as settings_views
from chat.views import share as share_views
from chat.views import tokens as token_views

urlpatterns = [
    path("", views.home, name="home"),
    path("send/", views.send_message, name="send_first_message"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("c/<int:pk>/send/", views.send_message, name="send_message"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/stop/", views.stop_run, name="stop_run"),
    path("runs/<int:pk>/retry/", views.retry_run, name="retry_run"),
    path("runs/<int:pk>/rejudge/", rejudge_views.rejudge_run, name="rejudge_run"),
    path("turns/<int:pk>/rerun/", views.rerun_turn, name="rerun_turn"),
    path("turns/<int:pk>/edit/", views.edit_turn, name="edit_turn"),
    path("estimate/", composer_views.composer_estimate, name="composer_estimate_first"),
    path("c/<int:pk>/estimate/", composer_views.composer_estimate, name="composer_estimate"),
    path("panels/", panel_views.panel_list, name="panel_list"),
    path("panels/new/", panel_views.panel_builder, name="panel_builder"),
    path("panels/<int:pk>/edit/", panel_views.panel_builder, name="panel_edit"),
    path("panels/<int:pk>/rename/", panel_views.panel_rename, name="panel_rename"),
    path("panels/<int:pk>/delete/", panel_views.panel_delete, name="panel_delete"),
    path("panels/builder/", panel_views.builder_update, name="builder_update"),
    path("panels/save/", panel_views.panel_save, name="panel_save"),
    path("catalog/", panel_views.catalog_list, name="catalog"),
    path("settings/", settings_views.settings_page, name="settings"),
    path("settings/budget/", settings_views.set_budget, name="settings_budget"),
    path("settings/keys/<slug:endpoint>/", settings_views.set_key, name="settings_key"),
    path("settings/keys/<slug:endpoint>/remove/", settings_views.remove_key, name="settings_key_remove"),
    path("settings/endpoints/new/", settings_views.add_endpoint, name="settings_endpoint_add"),
    path("settings/endpoints/<int:pk>/", settings_views.edit_endpoint, name="settings_endpoint"),
    path(
        "settings/endpoints/<int:pk>/delete/", settings_views.delete_endpoint, name="settings_endpoint_delete"
    ),
    path(
        "settings/endpoints/<int:pk>/remove-key/",
        settings_views.remove_endpoint_key,
        name="settings_endpoint_remove_key",
    ),
    # History: the sidebar's search and pages, rename, delete, and a conversation's spend.
    path("conversations/", history_views.conversation_list, name="conversation_list"),
    path("c/<int:pk>/rename/", history_views.conversation_rename, name="conversation_rename"),
    path("c/<int:pk>/delete/", history_views.conversation_delete, name="conversation_delete"),
    path("c/<int:pk>/spend/", history_views.conversation_spend_view, name="conversation_spend"),
]

# Sharing, export and import (chat/views/share.py).
urlpatterns += [
    path("c/<int:pk>/share/", share_views.create_share_link, name="share_create"),
    path("c/<int:pk>/share/<int:link_pk>/revoke/", share_views.revoke_share_link, name="share_revoke"),
    path("c/<int:pk>/export.md", share_views.export_markdown, name="export_markdown"),
    path("c/<int:pk>/export.json", share_views.export_json, name="export_json"),
    path("import/", share_views.import_conversation, name="import_conversation"),
    path("s/<slug:token>/", share_views.shared, name="shared"),
    path("s/<slug:token>/fork/", share_views.fork_shared, name="shared_fork"),
]

# Copy buttons and other tabs (chat/views/copy.py; the turn a page fetches when told of a new run).
urlpatterns += [
    path("turns/<int:pk>/", views.turn_detail, name="turn"),
    path("runs/<int:pk>/source/<str:column>/", copy_views.answer_source, name="answer_source"),
    path(
        "s/<slug:token>/runs/<int:pk>/source/<str:column>/",
        copy_views.shared_answer_source,
        name="shared_answer_source",
    ),
]

# API tokens, in Settings (chat/views/tokens.py); the API itself is under /v1 (chat/views/api).
urlpatterns += [
    path("settings/api-tokens/new/", token_views.create_api_token, name="api_token_create"),
    path("settings/api-tokens/<int:pk>/revoke/", token_views.revoke_api_token, name="api_token_revoke"),
]

# Evaluations: suites, a new evaluation, its progress, report, tasks and exports (chat/evaluation/views.py).
EVALUATION = "evaluations/<int:pk>/"
urlpatterns += [
    path("evaluations/", eval_views.evaluation_list, name="evaluation_list"),
    path("evaluations/suites/upload/", eval_views.suite_upload, name="evaluation_suite_upload"),
    path("evaluations/suites/starter/", eval_views.suite_starter, name="evaluation_suite_starter"),
    path("evaluations/suites/<int:pk>/delete/", eval_views.suite_delete, name="evaluation_suite_delete"),
    path("evaluations/new/", eval_views.evaluation_new, name="evaluation_new"),
    path("evaluations/new/<int:suite>/", eval_views.evaluation_new, name="evaluation_new_for"),
    path(EVALUATION, eval_views.evaluation_detail, name="evaluation"),
    path(f"{EVALUATION}stop/", eval_views.evaluation_stop, name="evaluation_stop"),
    path(f"{EVALUATION}resume/", eval_views.evaluation_resume, name="evaluation_resume"),
    path(f"{EVALUATION}tasks/<path:task_id>/", eval_views.evaluation_task, name="evaluation_task"),
    path(f"{EVALUATION}results.csv", eval_views.evaluation_csv, name="evaluation_csv"),
    path(f"{EVALUATION}report.json", eval_views.evaluation_json, name="evaluation_json"),
    path(f"{EVALUATION}report.html", eval_views.evaluation_html, name="evaluation_html"),
    path(f"{EVALUATION}plots/score-cost.svg", eval_views.plot_score_cost, name="evaluation_plot_score_cost"),
    path(f"{EVALUATION}plots/domains.svg", eval_views.plot_domains, name="evaluation_plot_domains"),
]
