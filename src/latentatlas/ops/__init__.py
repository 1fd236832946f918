"""Operations over an atlas, one module per command; the faces only call these."""
