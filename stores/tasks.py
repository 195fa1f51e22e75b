"""Tasks of the stores app (django-q2): thin, safe to run twice."""


def onboarding_reminders_task() -> dict[str, int]:
    from stores.onboarding import onboarding_reminders

    return onboarding_reminders()
