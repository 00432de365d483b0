from __future__ import annotations

from django import forms
from django.conf import settings

from agents.models import Process
from agents.text_extraction import ACCEPTED_SUFFIXES


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item] or self._empty()

    def _empty(self):
        raise forms.ValidationError("Choose at least one file.")


class UploadForm(forms.Form):
    process = forms.ModelChoiceField(queryset=Process.objects.none(), empty_label=None)
    files = MultipleFileField(
        help_text=f"Text or PDF ({', '.join(sorted(ACCEPTED_SUFFIXES))}), "
        f"up to {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB each."
    )

    def __init__(self, *args, processes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["process"].queryset = processes
        self.fields["files"].widget.attrs["accept"] = ",".join(sorted(ACCEPTED_SUFFIXES))
