//! SMS domain code shared by the GSM line and hw-sim's GSM modem: the PDU codec ([`pdu`]).
//! It never talks to a modem or touches the spool.

pub mod pdu;
