#pragma once

#include <QObject>

class QSocketNotifier;

// SIGTERM and SIGINT as a Qt signal, delivered on the event loop (the
// self-pipe pattern of Qt's "Calling Qt Functions From Unix Signal
// Handlers"): the handler only writes a byte, the slot does the work. While
// one of these exists, the two signals no longer end the process.
class StopSignals : public QObject
{
    Q_OBJECT
public:
    explicit StopSignals(QObject *parent = nullptr);
    ~StopSignals() override;

Q_SIGNALS:
    // count: how many stop signals so far (the second asks to hurry).
    void stopRequested(int signalNumber, int count);

private:
    QSocketNotifier *m_notifier = nullptr;
    int m_count = 0;
};
