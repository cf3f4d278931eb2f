"""Canned replies of a sub-account: listed, added, edited and deleted on one page; picked
from a conversation's send box."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import access
from messaging import sms
from messaging.models import CannedReply


class CannedReplyForm(forms.ModelForm):
    body = forms.CharField(
        label="Text", validators=[sms.validate_length],
        widget=forms.Textarea(attrs={"rows": 3, "data-sms-counter": ""}),
        help_text="Merge fields such as {first_name} are filled in when it is sent.",
    )  # fmt: skip

    class Meta:
        model = CannedReply
        fields = ["title", "body"]

    def __init__(self, *args, sub_account, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.sub_account = sub_account

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        others = CannedReply.objects.filter(sub_account=self.instance.sub_account, title=title)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A canned reply with this title already exists.")
        return title


@login_required
def canned_replies(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    form = CannedReplyForm(request.POST or None, sub_account=sub_account, prefix="new")
    if request.method == "POST" and form.is_valid():
        form.save()
        flash.success(request, f"Canned reply “{form.instance.title}” added.")
        return redirect("canned_replies", sub_account.pk)
    replies = [
        (reply, CannedReplyForm(instance=reply, sub_account=sub_account, prefix=str(reply.pk)))
        for reply in sub_account.canned_replies.all()
    ]
    context = {"sub_account": sub_account, "nav": "conversations", "form": form, "replies": replies}
    return render(request, "messaging/canned_replies.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def canned_reply_edit(request, sub_account_id, reply_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    reply = get_object_or_404(sub_account.canned_replies, pk=reply_id)
    if request.POST.get("delete"):
        reply.delete()
        flash.success(request, f"Canned reply “{reply.title}” deleted.")
        return redirect("canned_replies", sub_account.pk)
    form = CannedReplyForm(request.POST, instance=reply, sub_account=sub_account, prefix=str(reply.pk))
    if form.is_valid():
        form.save()
        flash.success(request, f"Canned reply “{reply.title}” saved.")
        return redirect("canned_replies", sub_account.pk)
    replies = [
        (r, form if r.pk == reply.pk else CannedReplyForm(instance=r, sub_account=sub_account, prefix=str(r.pk)))
        for r in sub_account.canned_replies.all()
    ]
    new = CannedReplyForm(sub_account=sub_account, prefix="new")
    context = {"sub_account": sub_account, "nav": "conversations", "form": new, "replies": replies}
    return render(request, "messaging/canned_replies.html", context, status=400)
