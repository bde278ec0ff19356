"""The review step: a model reads the tools' findings and the source, judges each finding and
adds what the tools missed (`base.Reviewer`; backends in `registry`)."""
