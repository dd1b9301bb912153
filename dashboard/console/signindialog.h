#pragma once

#include <QDialog>

class QCheckBox;
class QLabel;
class QLineEdit;

// Asks for the Parse user and password when neither the keyring nor the
// environment has them, or when they were refused.
class SignInDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SignInDialog(const QString &server, QWidget *parent = nullptr);

    void setUsername(const QString &username);
    void setMessage(const QString &message); // why we ask (again)
    QString username() const;
    QString password() const;
    bool remember() const; // keep the password in the keyring

private:
    QLineEdit *m_username;
    QLineEdit *m_password;
    QCheckBox *m_remember;
    QLabel *m_message;
};
