from django import template

from audit.overview import security_overview as security_overview_data

register = template.Library()


@register.inclusion_tag("admin/audit/security_overview.html", takes_context=True)
def security_overview(context) -> dict:
    """The security overview for staff who may read the audit log; nothing for anyone else."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("audit.view_auditevent"):
        return {"overview": None}
    return {"overview": security_overview_data()}
