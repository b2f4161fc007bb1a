"""Touch widgets shared by the screens (Kivy)."""
