from django import forms

from accounts.models import SubAccount
from compliance.policy import get_policy
from compliance.rules import opt_out_text_problem


class BusinessInfoForm(forms.ModelForm):
    """Settings → Business Info → General (R5, R6)."""

    class Meta:
        model = SubAccount
        fields = ["business_name", "opt_out_text", "sender_text"]
        labels = {"opt_out_text": "Custom opt-out text", "sender_text": "Custom sender identification"}
        help_texts = {
            "opt_out_text": "Appended to initial bulk messages. Empty: “Reply STOP to unsubscribe”. "
            "It must contain a standard opt-out keyword (STOP, END, CANCEL, …).",
            "sender_text": "Appended to initial bulk messages. Empty: “Thanks, <Business name>”.",
        }

    def clean_opt_out_text(self):
        text = self.cleaned_data["opt_out_text"].strip()
        problem = opt_out_text_problem(text, get_policy())
        if problem:
            raise forms.ValidationError(problem)
        return text

    def clean_sender_text(self):
        return self.cleaned_data["sender_text"].strip()
