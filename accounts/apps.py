from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from backoffice.request_identity import forget_user_read_with_session

        request_started.connect(forget_user_read_with_session, dispatch_uid="forget-user-at-start")
        request_finished.connect(forget_user_read_with_session, dispatch_uid="forget-user-at-end")
