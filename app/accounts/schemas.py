"""Account forms and API shapes (no table models here)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SignUp(BaseModel):
    email: str = Field(default="", max_length=254)
    password: str = Field(default="", max_length=1000)
    display_name: str = Field(default="", max_length=100)


class LogIn(BaseModel):
    email: str = Field(default="", max_length=254)
    password: str = Field(default="", max_length=1000)


class UserRead(BaseModel):
    id: int
    display_name: str
    role: str


class SessionRead(BaseModel):
    user: UserRead | None
    csrf_token: str
