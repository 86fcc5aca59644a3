from importlib import import_module

from django.apps import AppConfig

_AGENT_MODELS = ("ticket", "ticketmessage", "goodwilladjustment")
# Deletion requests are decided by those who may anonymise a member (Operations, Care
# leads): they read the queue; the decision needs ``loyalty.anonymise_member``.
_DELETION_QUEUE = ["customercare.view_accountdeletionrequest"]
_AGENT_REFERENCE = (
    "ticketevent",
    "ticketattachment",
    "csatresponse",
    "cannedreply",
    "slapolicy",
    "businesscalendar",
    "faqentry",
    "programterms",
    "agentprofile",
    "caresettings",
)


class CustomerCareConfig(AppConfig):
    name = "customercare"
    verbose_name = "Customer care"
    on_redemption_needs_care = "customercare.tasks.redemption_needs_care"
    demo_seed = "customercare.demo.seed"

    staff_group_permissions = {
        "Customer care": [
            f"customercare.{action}_{model}"
            for model in _AGENT_MODELS
            for action in ("add", "change", "view")
        ]
        + [f"customercare.view_{model}" for model in _AGENT_REFERENCE]
        + [
            "customercare.add_cannedreply",
            "customercare.change_cannedreply",
            "customercare.add_faqentry",
            "customercare.change_faqentry",
            "customercare.add_programterms",
            "customercare.change_programterms",
            "customercare.view_care_reports",
        ],
        "Operations": [
            "customercare.view_ticket",
            "customercare.view_care_reports",
            "customercare.add_slapolicy",
            "customercare.change_slapolicy",
            "customercare.view_slapolicy",
            "customercare.add_businesscalendar",
            "customercare.change_businesscalendar",
            "customercare.view_businesscalendar",
            "customercare.add_caresettings",
            "customercare.change_caresettings",
            "customercare.view_caresettings",
            *_DELETION_QUEUE,
        ],
        # Not the care settings: their goodwill threshold and limit bound the leads' own
        # approvals and goodwill, so Operations set them with the merchant.
        "Care leads": [
            "customercare.approve_goodwill",
            "customercare.reissue_reward",
            "customercare.view_care_reports",
            "customercare.change_agentprofile",
            "customercare.view_caresettings",
            "customercare.add_slapolicy",
            "customercare.change_slapolicy",
            "customercare.view_slapolicy",
            *_DELETION_QUEUE,
        ],
        "Finance": ["customercare.view_goodwilladjustment", "customercare.view_care_reports"],
    }
    ops_cards = "customercare.ops_cards.CARDS"
    # The member page's Tickets tab and its "Open a ticket" action.
    member_tabs = "customercare.admin.member_tab.member_tabs"
    member_actions = "customercare.admin.member_tab.member_actions"
    periodic_tasks = [
        {
            "name": "Customer care sweep",
            "task": "customercare.sweep",
            "crontab": "*/5 * * * *",
            "description": "Sends the care emails a crash left unsent and opens a ticket "
            "for each refunded redemption that needs care and has none.",
        },
        {
            "name": "Customer care SLA check",
            "task": "customercare.sla_check",
            "crontab": "*/5 * * * *",
            "description": "Flags tickets at risk of missing their SLA and breached, raises "
            "a breached ticket's priority one step, emails the assignee and the team leads, "
            "and closes resolved tickets past their reopen window.",
        },
        {
            "name": "Delete expired member data archives",
            "task": "customercare.member_data_expire",
            "crontab": "40 3 * * *",
            "description": "Deletes the archives members downloaded their data in once "
            "their week is over.",
        },
    ]

    def ready(self) -> None:
        # The care writers enqueue the care tasks by name (customercare.enqueue): with the
        # tasks registered in every process, the web's included, a name always resolves to
        # its task (and runs it at once where tasks are eager).
        import_module(f"{self.name}.tasks")
