"""Forms of the annotator web app. Business rules stay in services; forms only shape input."""
from __future__ import annotations

from django import forms


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, label="User name", widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    display_name = forms.CharField(max_length=100, required=False, label="Display name (optional)")
    email = forms.EmailField(required=False, label="Email (optional)", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), help_text="At least 8 characters, not a common password.")
    password_again = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", "The two passwords differ.")
        return data


class LabelChoiceForm(forms.Form):
    """One label out of the project's labels (tutorial step, task)."""

    label = forms.ChoiceField(widget=forms.RadioSelect, error_messages={"required": "Choose a label."})

    def __init__(self, *args, labels: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [(lab, lab) for lab in labels]


class TaskForm(forms.Form):
    lease_id = forms.IntegerField(widget=forms.HiddenInput)
    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    started = forms.CharField(max_length=500, widget=forms.HiddenInput)
    label = forms.CharField(max_length=200, required=False)
    # structured answer of the non-categorical task types, as JSON (the type's widget writes it)
    value = forms.CharField(max_length=1_000_000, required=False, strip=False)


class _SharedFields(dict):
    """A form's ``base_fields`` that every instance shares instead of deep-copying them (Django
    copies them per instance so that one instance may change its fields or widgets)."""

    def __deepcopy__(self, memo):
        return dict(self)


# Decided (issue 9): ``TaskForm`` is only bound and validated, on every annotation, never rendered
# and never changed per instance (``Field.clean`` reads its field, writes nothing to it), so its
# instances share the fields: copying five fields and their widgets was ~3 % of the web worker's CPU.
TaskForm.base_fields = _SharedFields(TaskForm.base_fields)


class SkipForm(forms.Form):
    """A skip from the workbench: the reason is checked by the skip service."""

    lease_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=16, required=False)
    note = forms.CharField(max_length=400, required=False)


class TurnForm(forms.Form):
    text = forms.CharField(required=False, max_length=4000, strip=False)


# --- issue 3a: profile, surveys (shape only: services/profiles.py and surveys.py validate) ------

class EmailForm(forms.Form):
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class ProfileForm(forms.Form):
    """One field per profile attribute; values are checked by workforce.attributes."""

    def __init__(self, *args, current: dict | None = None, **kwargs):
        from . import attributes

        super().__init__(*args, **kwargs)
        current = current or {}
        for key, attr in attributes.ATTRIBUTES.items():
            initial = current[key].value if key in current else None
            required = key in attributes.PROFILE_REQUIRED
            if attr.kind == "single":
                field = forms.ChoiceField(choices=[("", "—")] + [(c, c.replace("_", " ")) for c in attr.choices],
                                          required=required)
            elif attr.kind == "multi" and attr.choices:
                field = forms.MultipleChoiceField(choices=[(c, c) for c in attr.choices], required=required,
                                                  widget=forms.CheckboxSelectMultiple)
            elif attr.kind == "multi":
                field = forms.CharField(required=required, help_text="Separate values with commas.")
                initial = ", ".join(initial) if initial else None
            else:
                field = forms.CharField(required=required)
            field.label = attr.label
            field.initial = initial
            self.fields[key] = field


class SurveyCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reward = forms.CharField(max_length=12, label="Reward (paid once on completion)")


class QuestionForm(forms.Form):
    text = forms.CharField(max_length=500, label="Question")
    kind = forms.ChoiceField(choices=[("single", "Single choice"), ("multi", "Multiple choice"), ("number", "Number"),
                                      ("text", "Text")])
    attribute = forms.ChoiceField(required=False, label="Sets profile attribute")
    choices = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Choices (one a line)")

    def __init__(self, *args, **kwargs):
        from . import attributes

        super().__init__(*args, **kwargs)
        self.fields["attribute"].choices = [("", "— none —")] + [(k, a.label) for k, a in attributes.ATTRIBUTES.items()]
class PayoutForm(forms.Form):
    """A payout period: first and last day, inclusive (UTC)."""

    period_start = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))


class AppealForm(forms.Form):
    text = forms.CharField(label="Why should this decision change?", max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 6}))


class AppealDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("reinstate", "Reinstate"), ("uphold", "Uphold")], widget=forms.RadioSelect)
    note = forms.CharField(label="Note to the annotator", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))


class PayRateForm(forms.Form):
    """A project's pay per accepted answer (the service checks the range and the currency)."""

    per_answer = forms.DecimalField(label="Per accepted answer", max_digits=10, decimal_places=4,
                                    error_messages={"invalid": "Give the rate as a number, e.g. 0.08."})
    currency = forms.CharField(label="Currency", max_length=3, min_length=3, initial="USD")
