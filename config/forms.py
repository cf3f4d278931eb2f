"""The project's form renderer (FORM_RENDERER): labels without Django's trailing colon.

Django appends `label_suffix` (":") to every label a form renders — `as_div`, `label_tag`,
`legend_tag` — unless the form or field says otherwise. Our labels sit above their inputs, where
the colon is noise ("Email address:"), so the default here is none; a form or field that sets a
`label_suffix` of its own keeps it."""

from django.forms import BoundField
from django.forms.renderers import DjangoTemplates
from django.utils.translation import gettext as _


class LabelBoundField(BoundField):
    def label_tag(self, contents=None, attrs=None, label_suffix=None, tag=None):
        if label_suffix is None and self.field.label_suffix is None and self.form.label_suffix == _(":"):
            label_suffix = ""
        return super().label_tag(contents, attrs, label_suffix=label_suffix, tag=tag)


class Renderer(DjangoTemplates):
    bound_field_class = LabelBoundField
