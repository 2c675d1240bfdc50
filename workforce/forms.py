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
