//! RM-style ERP: appointment confirmations over WhatsApp, answered back into the ERP.
