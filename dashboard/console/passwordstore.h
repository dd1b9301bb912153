#pragma once

#include <QObject>
#include <QString>

// The console's password in the OS keyring (qtkeychain), every job guarded
// by a timeout: with no session bus a job fails at once, but under a desktop
// session a write may wait forever behind a prompt. A job that times out is
// left to end on its own (it deletes itself); its answer is then ignored.
class PasswordStore : public QObject
{
    Q_OBJECT
public:
    explicit PasswordStore(QObject *parent = nullptr);

    void setTimeoutMs(int ms) { m_timeoutMs = ms; }

    // Answers with passwordRead(): found, the password (empty if not), and
    // why not (empty when there is simply no entry).
    void read(const QString &account);
    // Answers with written(): ok, and why not.
    void write(const QString &account, const QString &password);
    void remove(const QString &account);

    static QString service() { return QStringLiteral("membatch"); }

Q_SIGNALS:
    void passwordRead(bool found, const QString &password, const QString &error);
    void written(bool ok, const QString &error);

private:
    int m_timeoutMs = 3000;
};
