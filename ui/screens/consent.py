"""Consent: the personal-data consent as its own document, the policy terms, the memo — each ticked."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from ui.presenters.sale import Consent
from ui.screens.base import KioskScreen, load_kv
from ui.widgets.common import DocumentView


class ConsentCard(BoxLayout):  # type: ignore[misc]
    """One document: title, version, "Читать", and its own tick."""

    key = StringProperty("")
    title = StringProperty("")
    version = StringProperty("")
    agree = StringProperty("")
    agreed = BooleanProperty(False)
    required = BooleanProperty(True)

    def __init__(self, consent: Consent, screen: ConsentScreen, **kw: Any) -> None:
        super().__init__(**kw)
        self.consent = consent
        self.screen = screen
        self.key = consent.key
        self.title = consent.title
        self.version = consent.version
        self.agree = consent.agree
        self.required = consent.required

    def read(self) -> None:
        DocumentView(title=self.consent.title, text=self.consent.text, version=self.consent.version).open()

    def toggle(self) -> None:
        self.screen.toggle(self.key)


class ConsentScreen(KioskScreen):
    """ "К оплате" records the consents, then checks that the kiosk is ready to take money."""

    def on_kv_post(self, _base: Any) -> None:
        self._cards: dict[str, ConsentCard] = {}

    def refresh(self) -> None:
        box = self.ids.documents
        if not self._cards:
            for consent in self.flow.consents:
                card = ConsentCard(consent, self)
                self._cards[consent.key] = card
                box.add_widget(card)
            box.add_widget(Widget())
        for key, card in self._cards.items():
            card.agreed = bool(self.flow.agreed.get(key))
        self.ids.message.text = ""

    def toggle(self, key: str) -> None:
        self.flow.agreed[key] = not self.flow.agreed.get(key)
        self.refresh_soon()

    def next(self) -> None:
        missing = [c.title for c in self.flow.consents if c.required and not self.flow.agreed.get(c.key)]
        if missing:
            self.ids.message.text = self.tr("Отметьте согласие") + ": " + "; ".join(missing)
            return
        self.app.consent_and_check()


load_kv(__file__)
