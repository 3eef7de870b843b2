"""Training: sessions, bookings and courses."""
