from django.urls import path

from review.views import documents, intake

app_name = "review"

urlpatterns = [
    path("", documents.home, name="home"),
    path("documents/", documents.document_list, name="documents"),
    path("documents/<int:pk>/", documents.document_detail, name="document"),
    path("documents/<int:pk>/file/", documents.document_file, name="document-file"),
    path("upload/", intake.upload, name="upload"),
]
